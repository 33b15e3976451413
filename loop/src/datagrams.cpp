// The datagram transport and create_datagram_endpoint: CPython 3.13's
// selector_events._SelectorDatagramTransport (with _SelectorTransport's
// close / abort / flow control) and BaseEventLoop.create_datagram_endpoint,
// over a SocketLayer's datagram calls.
#include <simloop/datagrams.hpp>

#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include <simloop/awaitables.hpp>
#include <simloop/detail/socket_transport.hpp>
#include <simloop/event_loop.hpp>
#include <simloop/future.hpp>
#include <simloop/primitive_errors.hpp>
#include <simloop/streams.hpp>

namespace simloop {

namespace {
constexpr std::size_t kMaxSize = 256 * 1024;  // selector_events.max_size, the recvfrom buffer
constexpr std::size_t kHeaderSize = 8;        // what asyncio counts per buffered datagram beyond its data
constexpr std::size_t kDefaultHigh = 64 * 1024;

std::pair<std::size_t, std::size_t> limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  const std::size_t h = high ? *high : (low ? 4 * *low : kDefaultHigh);
  const std::size_t l = low ? *low : h / 4;
  if (h < l) {
    throw InvalidArgumentError(
        fmt::format("set_write_buffer_limits: high ({}) must be >= low ({}) must be >= 0", h, l));
  }
  return {h, l};
}

bool port_ok(int port, int lowest) { return port >= lowest && port <= 65535; }

std::string name_of(const Address& a) { return fmt::format("{}:{}", a.host, a.port); }
}  // namespace

SocketDatagramTransport::SocketDatagramTransport(EventLoop& loop, SocketLayer& sock, int fd,
                                                 std::shared_ptr<DatagramProtocol> protocol,
                                                 std::optional<Address> peer)
    : loop_(&loop), sock_(&sock), fd_(fd), protocol_(std::move(protocol)), peer_(std::move(peer)) {
  std::tie(high_water_, low_water_) = limits(std::nullopt, std::nullopt);
  sockname_ = sock_->local_name(fd_);
  if (peer_) peername_ = sock_->peer_name(fd_);
}

SocketDatagramTransport::~SocketDatagramTransport() {
  // Normally the socket closes after connection_lost; a transport dropped
  // with its loop (never closed) still releases it.
  if (!fd_closed_) sock_->close(fd_);
}

void SocketDatagramTransport::start() {
  auto self = shared_from_this();
  loop_->call_soon([self] {
    if (self->protocol_) self->protocol_->connection_made(*self);
  });
  // Only start reading once connection_made has been called.
  loop_->call_soon([self] {
    if (self->closing_) return;  // closed meanwhile: asyncio's _add_reader adds nothing
    self->loop_->add_reader(self->fd_, [self] { self->read_ready(); });
  });
}

std::optional<std::string> SocketDatagramTransport::get_extra_info(std::string_view name) const {
  if (name == "sockname") return sockname_.empty() ? std::nullopt : std::optional<std::string>(sockname_);
  if (name == "peername") return peername_.empty() ? std::nullopt : std::optional<std::string>(peername_);
  return std::nullopt;
}

void SocketDatagramTransport::read_ready() {
  if (conn_lost_ > 0) return;
  if (read_buffer_.empty()) read_buffer_.resize(kMaxSize);
  Address from;
  const std::ptrdiff_t n = sock_->recvfrom(fd_, read_buffer_.data(), read_buffer_.size(), &from);
  if (n == -EAGAIN || n == -EINTR) return;
  if (n < 0) {
    protocol_->error_received(make_os_error(static_cast<int>(-n), "recvfrom"));
    return;
  }
  // An exception here goes to the loop's handler, the transport stays open
  // (CPython calls datagram_received outside its try).
  protocol_->datagram_received(std::string_view(read_buffer_.data(), static_cast<std::size_t>(n)), from);
}

std::ptrdiff_t SocketDatagramTransport::send_one(const std::string& data, const std::optional<Address>& to) {
  if (peer_) return sock_->sendto(fd_, data.data(), data.size(), {}, 0);  // asyncio's sock.send
  return sock_->sendto(fd_, data.data(), data.size(), to->host, to->port);
}

void SocketDatagramTransport::sendto(std::string_view data, std::optional<Address> to) {
  if (peer_) {
    if (to && *to != *peer_) {
      throw InvalidArgumentError(
          fmt::format("sendto: invalid address {}: must be none or {}", name_of(*to), name_of(*peer_)));
    }
    to = peer_;
  } else if (!to) {
    throw InvalidArgumentError("sendto: no address given, and this endpoint has no remote address");
  }
  if (!port_ok(to->port, 1)) {
    throw InvalidArgumentError(fmt::format("sendto({}): the port is out of range 1..65535", name_of(*to)));
  }
  if (conn_lost_ > 0 && peer_) {
    ++conn_lost_;  // asyncio counts (and after a few, logs) sends after the connection is lost
    return;
  }
  if (fd_closed_) return;
  if (buffer_.empty()) {
    // Attempt to send it right away first.
    const std::ptrdiff_t n = send_one(std::string(data), to);
    if (n >= 0) return;
    if (n == -EAGAIN || n == -EINTR) {
      auto self = shared_from_this();
      loop_->add_writer(fd_, [self] { self->sendto_ready(); });
    } else {
      protocol_->error_received(make_os_error(static_cast<int>(-n), "sendto"));
      return;
    }
  }
  buffer_.push_back(Pending{std::string(data), std::move(to)});
  buffer_size_ += data.size() + kHeaderSize;
  maybe_pause_protocol();
}

void SocketDatagramTransport::sendto_ready() {
  while (!buffer_.empty()) {
    Pending p = std::move(buffer_.front());
    buffer_.pop_front();
    buffer_size_ -= p.data.size() + kHeaderSize;
    const std::ptrdiff_t n = send_one(p.data, p.to);
    if (n == -EAGAIN || n == -EINTR) {
      buffer_size_ += p.data.size() + kHeaderSize;
      buffer_.push_front(std::move(p));  // try again later
      break;
    }
    if (n < 0) {
      protocol_->error_received(make_os_error(static_cast<int>(-n), "sendto"));
      return;
    }
  }
  maybe_resume_protocol();  // may append to the buffer
  if (buffer_.empty()) {
    auto self = shared_from_this();  // dropping the writer may drop the last other reference
    loop_->remove_writer(fd_);
    if (closing_) call_connection_lost(nullptr);
  }
}

void SocketDatagramTransport::close() {
  if (closing_) return;
  closing_ = true;
  auto self = shared_from_this();
  if (!fd_closed_) loop_->remove_reader(fd_);
  if (buffer_.empty()) {
    ++conn_lost_;
    if (!fd_closed_) loop_->remove_writer(fd_);
    loop_->call_soon([self] { self->call_connection_lost(nullptr); });
  }
}

void SocketDatagramTransport::abort() { force_close(nullptr); }

void SocketDatagramTransport::force_close(std::exception_ptr exc) {
  if (conn_lost_ > 0) return;
  auto self = shared_from_this();
  if (!buffer_.empty()) {
    buffer_.clear();
    buffer_size_ = 0;
    loop_->remove_writer(fd_);
  }
  if (!closing_) {
    closing_ = true;
    loop_->remove_reader(fd_);
  }
  ++conn_lost_;
  loop_->call_soon([self, exc] { self->call_connection_lost(exc); });
}

void SocketDatagramTransport::call_connection_lost(std::exception_ptr exc) {
  if (fd_closed_) return;
  std::shared_ptr<DatagramProtocol> protocol = std::move(protocol_);
  struct CloseAfter {
    SocketDatagramTransport* t;
    ~CloseAfter() {
      t->fd_closed_ = true;
      t->sock_->close(t->fd_);
    }
  } close_after{this};
  if (protocol) protocol->connection_lost(exc);
}

void SocketDatagramTransport::maybe_pause_protocol() {
  if (buffer_size_ <= high_water_ || protocol_paused_ || !protocol_) return;
  protocol_paused_ = true;
  try {
    protocol_->pause_writing();
  } catch (...) {
    loop_->call_exception_handler({"protocol.pause_writing() failed", std::current_exception(), sockname_});
  }
}

void SocketDatagramTransport::maybe_resume_protocol() {
  if (!protocol_paused_ || buffer_size_ > low_water_ || !protocol_) return;
  protocol_paused_ = false;
  try {
    protocol_->resume_writing();
  } catch (...) {
    loop_->call_exception_handler({"protocol.resume_writing() failed", std::current_exception(), sockname_});
  }
}

void SocketDatagramTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  std::tie(high_water_, low_water_) = limits(high, low);
  maybe_pause_protocol();
}

namespace detail {

namespace {
// A descriptor no transport owns yet: closed if nothing takes it.
struct DatagramFd {
  SocketLayer* sock;
  int fd;
  ~DatagramFd() {
    if (fd >= 0) sock->close(fd);
  }
};
}  // namespace

Coro<std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<DatagramProtocol>>> create_datagram_endpoint_erased(
    DatagramProtocolFactory factory, std::optional<Address> local, std::optional<Address> remote) {
  EventLoop& loop = EventLoop::running_or_throw("create_datagram_endpoint");
  if (!factory) throw Error("create_datagram_endpoint: the protocol factory is empty");
  if (!local && !remote) {
    throw InvalidArgumentError("create_datagram_endpoint: give a local address, a remote address or both");
  }
  if (local && !port_ok(local->port, 0)) {
    throw InvalidArgumentError(
        fmt::format("create_datagram_endpoint: the local port {} is out of range 0..65535", local->port));
  }
  if (remote && remote->host.empty()) {
    throw InvalidArgumentError("create_datagram_endpoint: the remote address has no host");
  }
  if (remote && !port_ok(remote->port, 1)) {
    throw InvalidArgumentError(
        fmt::format("create_datagram_endpoint: the remote port {} is out of range 1..65535", remote->port));
  }
  SocketLayer& sock = sockets_of(loop);
  const std::string where =
      fmt::format("create_datagram_endpoint(local {}, remote {})", local ? name_of(*local) : std::string("none"),
                  remote ? name_of(*remote) : std::string("none"));
  const int fd = sock.udp_open(local ? local->host : std::string(), local ? local->port : 0);
  if (fd == -EOPNOTSUPP) {
    throw Error("create_datagram_endpoint: this loop's socket layer has no datagram sockets");
  }
  if (fd < 0) std::rethrow_exception(make_os_error(-fd, where));
  DatagramFd guard{&sock, fd};
  if (remote) {
    const int r = sock.udp_connect(fd, remote->host, remote->port);
    if (r < 0) std::rethrow_exception(make_os_error(-r, where));
  }
  std::shared_ptr<DatagramProtocol> protocol = factory();
  if (!protocol) throw Error("create_datagram_endpoint: the protocol factory returned null");
  auto transport = std::make_shared<SocketDatagramTransport>(loop, sock, fd, protocol, remote);
  guard.fd = -1;
  transport->start();
  // Only wake the creator once connection_made has been called.
  co_await transport_ready(transport);
  co_return std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<DatagramProtocol>>(transport, protocol);
}

}  // namespace detail

}  // namespace simloop
