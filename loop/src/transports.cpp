// The stream transport, the protocol server, create_connection and
// create_server: CPython 3.13's selector_events._SelectorSocketTransport,
// base_events.Server and BaseEventLoop.create_connection / create_server,
// over a SocketLayer. See detail/socket_transport.hpp.
#include <simloop/detail/socket_transport.hpp>

#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include <simloop/awaitables.hpp>
#include <simloop/event_loop.hpp>
#include <simloop/gather.hpp>
#include <simloop/primitive_errors.hpp>
#include <simloop/sleep.hpp>
#include <simloop/streams.hpp>
#include <simloop/task.hpp>

namespace simloop {

namespace detail {

namespace {
constexpr std::size_t kMaxReadSize = 256 * 1024;  // selector_events.max_size
constexpr std::size_t kDefaultHighWater = 64 * 1024;

// A descriptor not yet owned by a transport: closed if nothing takes it.
struct FdGuard {
  SocketLayer* sock;
  int fd;
  FdGuard(SocketLayer* s, int f) noexcept : sock(s), fd(f) {}
  FdGuard(FdGuard&& o) noexcept : sock(o.sock), fd(std::exchange(o.fd, -1)) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  FdGuard& operator=(FdGuard&&) = delete;
  ~FdGuard() {
    if (fd >= 0) sock->close(fd);
  }
  int release() noexcept { return std::exchange(fd, -1); }
};

// asyncio's _set_write_buffer_limits.
std::pair<std::size_t, std::size_t> water_marks(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  std::size_t h = high ? *high : (low ? 4 * *low : kDefaultHighWater);
  std::size_t l = low ? *low : h / 4;
  if (h < l) {
    throw InvalidArgumentError(
        fmt::format("set_write_buffer_limits: high ({}) must be >= low ({}) must be >= 0", h, l));
  }
  return {h, l};
}
}  // namespace

std::exception_ptr os_error_of(int code, const std::string& what) { return make_os_error(code, what); }

// ---- SocketTransport ----------------------------------------------------------

// Kept by the loop; it and its transport point at each other until either
// goes (the slot first when close() frees it while it holds the transport).
struct SocketTransport::PinSlot {
  SocketTransport* owner = nullptr;
  std::shared_ptr<SocketTransport> held;
  PinSlot() = default;
  PinSlot(const PinSlot&) = delete;
  PinSlot& operator=(const PinSlot&) = delete;
  ~PinSlot() {
    if (owner != nullptr) owner->pin_slot_ = nullptr;
    held.reset();  // may destroy the transport, which no longer sees this slot
  }
};

SocketTransport::SocketTransport(EventLoop& loop, SocketLayer& sock, int fd, std::shared_ptr<BaseProtocol> protocol,
                                 bool readable, bool writable)
    : loop_(&loop),
      sock_(&sock),
      fd_(fd),
      protocol_(std::move(protocol)),
      readable_(readable),
      writable_(writable),
      high_water_(kDefaultHighWater),
      low_water_(kDefaultHighWater / 4) {
  if (!protocol_) throw Error("transport: the protocol is null");
  peername_ = sock_->peer_name(fd_);
  sockname_ = sock_->local_name(fd_);
  stream_protocol_ = dynamic_cast<Protocol*>(protocol_.get());
  buffered_ = dynamic_cast<BufferedProtocol*>(protocol_.get());
  if (stream_protocol_ == nullptr && buffered_ == nullptr) {
    throw Error("transport: a stream transport needs a Protocol or a BufferedProtocol");
  }
}

SocketTransport::~SocketTransport() {
  if (pin_slot_ != nullptr) pin_slot_->owner = nullptr;
  // Normally the fd is closed by connection_lost; a transport dropped with
  // the loop (never closed) still releases its descriptor.
  if (!fd_closed_) sock_->close(fd_);
}

std::string SocketTransport::peer_name() const { return peername_; }

std::optional<std::string> SocketTransport::get_extra_info(std::string_view name) const {
  // Taken when the transport was made, as asyncio's _extra: still known
  // after the connection is closed.
  const std::string* value = name == "peername" ? &peername_ : name == "sockname" ? &sockname_ : nullptr;
  if (value == nullptr || value->empty()) return std::nullopt;
  return *value;
}

void SocketTransport::start(std::function<void()> after_connection_made) {
  auto self = shared_from_this();
  loop_->call_soon([self, after = std::move(after_connection_made)] {
    if (!self->protocol_) return;
    self->protocol_->connection_made(*self);
    if (after) after();
  });
  loop_->call_soon([self] { self->add_reader(); });
}

void SocketTransport::start_reading_now() { add_reader(); }

void SocketTransport::add_reader() {
  // selector_events' _add_reader: only while reading (not paused, not closing).
  if (!readable_ || !is_reading()) return;
  auto self = shared_from_this();
  loop_->add_reader(fd_, [self] { self->read_ready(); });
}

void SocketTransport::pause_reading() {
  if (!is_reading()) return;
  paused_ = true;
  pin();  // first: the reader callback may hold the last other reference
  if (readable_) loop_->remove_reader(fd_);
}

void SocketTransport::resume_reading() {
  if (closing_ || !paused_) return;
  paused_ = false;
  add_reader();
  if (reading_stopped_) return;
  // The reader callback holds it again; released on return, not while the
  // slot is being emptied.
  const std::shared_ptr<SocketTransport> unpinned = unpin();
}

void SocketTransport::pin() {
  if (loop_->is_closed()) return;
  if (pin_slot_ == nullptr) {
    pin_slot_ = &loop_->keep<PinSlot>();
    pin_slot_->owner = this;
  }
  pin_slot_->held = shared_from_this();
}

std::shared_ptr<SocketTransport> SocketTransport::unpin() {
  if (pin_slot_ == nullptr) return nullptr;
  return std::move(pin_slot_->held);
}

void SocketTransport::protocol_raised(const char* what, std::exception_ptr e) {
  loop_->call_exception_handler({fmt::format("Fatal error: protocol.{}() call failed.", what), e, peer_name()});
  force_close(e);
}

void SocketTransport::read_ready() {
  if (conn_lost_ > 0) return;
  if (buffered_ != nullptr) {
    std::span<char> buf;
    std::exception_ptr error;
    try {
      buf = buffered_->get_buffer(kMaxReadSize);
      if (buf.empty()) throw Error("get_buffer() returned an empty buffer");
    } catch (...) {  // not swallowed: the transport closes with it
      error = std::current_exception();
    }
    if (error) return protocol_raised("get_buffer", error);
    const std::ptrdiff_t n = sock_->read(fd_, buf.data(), buf.size());
    if (n == -EAGAIN || n == -EINTR) return;
    if (n < 0) return force_close(make_os_error(static_cast<int>(-n), "read"));
    if (n == 0) return on_eof();
    try {
      buffered_->buffer_updated(static_cast<std::size_t>(n));
    } catch (...) {
      error = std::current_exception();
    }
    if (error) protocol_raised("buffer_updated", error);
    return;
  }
  thread_local std::vector<char> chunk(kMaxReadSize);
  const std::ptrdiff_t n = sock_->read(fd_, chunk.data(), chunk.size());
  if (n == -EAGAIN || n == -EINTR) return;  // spurious readiness
  if (n < 0) return force_close(make_os_error(static_cast<int>(-n), "read"));
  if (n == 0) return on_eof();
  std::exception_ptr error;
  try {
    stream_protocol_->data_received(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
  } catch (...) {
    error = std::current_exception();
  }
  if (error) protocol_raised("data_received", error);
}

void SocketTransport::on_eof() {
  bool keep_open = false;
  std::exception_ptr error;
  try {
    keep_open = buffered_ != nullptr ? buffered_->eof_received() : stream_protocol_->eof_received();
  } catch (...) {
    error = std::current_exception();
  }
  if (error) return protocol_raised("eof_received", error);
  if (keep_open) {
    // A half-close: only reading stops.
    reading_stopped_ = true;
    pin();  // open for writing, watched for nothing
    loop_->remove_reader(fd_);
  } else {
    close();
  }
}

void SocketTransport::write(std::string_view data) {
  if (!writable_) throw Error("Transport::write: this transport is read-only (a pipe's read end)");
  if (eof_requested_) throw Error("Transport::write: called after write_eof()");
  if (data.empty()) return;
  if (conn_lost_ > 0) return;  // asyncio drops writes on a lost connection (and logs after a few)
  if (get_write_buffer_size() == 0) {
    std::ptrdiff_t n = sock_->write(fd_, data.data(), data.size());
    if (n == -EAGAIN || n == -EINTR) {
      n = 0;
    } else if (n < 0) {
      force_close(make_os_error(static_cast<int>(-n), "write"));
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    if (data.empty()) return;
    auto self = shared_from_this();
    loop_->add_writer(fd_, [self] { self->write_ready(); });
  }
  if (woff_ > 0 && woff_ == wbuf_.size()) {
    wbuf_.clear();
    woff_ = 0;
  }
  wbuf_.append(data);
  maybe_pause_protocol();
}

void SocketTransport::write_ready() {
  if (conn_lost_ > 0 || get_write_buffer_size() == 0) return;
  const std::ptrdiff_t n = sock_->write(fd_, wbuf_.data() + woff_, get_write_buffer_size());
  if (n == -EAGAIN || n == -EINTR) return;
  if (n < 0) {
    loop_->remove_writer(fd_);
    wbuf_.clear();
    woff_ = 0;
    force_close(make_os_error(static_cast<int>(-n), "write"));
    return;
  }
  woff_ += static_cast<std::size_t>(n);
  if (woff_ == wbuf_.size()) {
    wbuf_.clear();
    woff_ = 0;
  } else if (woff_ > wbuf_.size() / 2) {
    wbuf_.erase(0, woff_);
    woff_ = 0;
  }
  maybe_resume_protocol();  // may write more
  if (get_write_buffer_size() == 0 && conn_lost_ == 0) {
    loop_->remove_writer(fd_);
    if (closing_) {
      call_connection_lost(nullptr);
    } else if (eof_requested_) {
      sock_->shutdown_write(fd_);
    }
  }
}

void SocketTransport::write_eof() {
  if (closing_ || eof_requested_) return;
  eof_requested_ = true;
  if (get_write_buffer_size() == 0) sock_->shutdown_write(fd_);
}

void SocketTransport::close() {
  if (closing_) return;
  closing_ = true;
  if (readable_) loop_->remove_reader(fd_);
  if (get_write_buffer_size() == 0) {
    ++conn_lost_;
    loop_->remove_writer(fd_);
    auto self = shared_from_this();
    loop_->call_soon([self] { self->call_connection_lost(nullptr); });
  }
}

void SocketTransport::force_close(std::exception_ptr exc) {
  if (conn_lost_ > 0) return;
  if (get_write_buffer_size() > 0) {
    wbuf_.clear();
    woff_ = 0;
    loop_->remove_writer(fd_);
  }
  if (!closing_) {
    closing_ = true;
    if (readable_) loop_->remove_reader(fd_);
  }
  ++conn_lost_;
  auto self = shared_from_this();
  loop_->call_soon([self, exc] { self->call_connection_lost(exc); });
}

void SocketTransport::call_connection_lost(std::exception_ptr exc) {
  if (fd_closed_) return;
  // Lost from here on, also when write_ready calls this directly (a close()
  // that waited for the buffer, which counts nothing in conn_lost_): later
  // writes are dropped as asyncio's `if self._conn_lost` drops them, and the
  // closed descriptor, whose number the next socket may reuse, is never used.
  if (conn_lost_ == 0) conn_lost_ = 1;
  std::shared_ptr<BaseProtocol> protocol = std::move(protocol_);
  stream_protocol_ = nullptr;
  buffered_ = nullptr;
  protocol_paused_ = false;
  std::exception_ptr raised;
  try {
    if (protocol) protocol->connection_lost(exc);
  } catch (...) {  // rethrown below, after the socket is closed (asyncio's finally)
    raised = std::current_exception();
  }
  sock_->close(fd_);
  fd_closed_ = true;
  if (server_) std::exchange(server_, nullptr)->detach();
  // Last: may drop the last reference (the caller's callback holds another).
  std::shared_ptr<SocketTransport> pinned = unpin();
  if (raised) std::rethrow_exception(raised);
}

void SocketTransport::maybe_pause_protocol() {
  if (get_write_buffer_size() <= high_water_ || protocol_paused_ || !protocol_) return;
  protocol_paused_ = true;
  try {
    protocol_->pause_writing();
  } catch (...) {  // reported, not swallowed silently; asyncio goes on
    loop_->call_exception_handler({"protocol.pause_writing() failed", std::current_exception(), peer_name()});
  }
}

void SocketTransport::maybe_resume_protocol() {
  if (!protocol_paused_ || get_write_buffer_size() > low_water_ || !protocol_) return;
  protocol_paused_ = false;
  try {
    protocol_->resume_writing();
  } catch (...) {
    loop_->call_exception_handler({"protocol.resume_writing() failed", std::current_exception(), peer_name()});
  }
}

void SocketTransport::set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) {
  std::tie(high_water_, low_water_) = water_marks(high, low);
  maybe_pause_protocol();
}

// ---- the set-up waiter and connecting ---------------------------------------------

Coro<void> transport_ready(std::shared_ptr<BaseTransport> transport) {
  EventLoop& loop = transport->get_loop();
  Future<void> waiter = Future<void>::create(loop);
  loop.call_soon([waiter] {
    if (!waiter.done()) waiter.set_result();  // futures._set_result_unless_cancelled
  });
  const std::exception_ptr error = co_await settle(waiter);
  if (error) {
    transport->close();  // the creator's `except: transport.close(); raise`
    std::rethrow_exception(error);
  }
}

Coro<int> connect_socket(EventLoop& loop, SocketLayer& sock, std::string host, int port, std::string local_host,
                         std::string who) {
  if (port <= 0 || port > 65535) throw Error(fmt::format("{}: port {} is out of range 1..65535", who, port));
  const int fd = sock.connect(host, port, local_host);
  if (fd < 0) std::rethrow_exception(make_os_error(-fd, fmt::format("{}({}:{})", who, host, port)));
  FdGuard guard(&sock, fd);
  int result = sock.connect_result(fd);
  if (result == -EINPROGRESS) {
    struct StopWatching {
      EventLoop& loop;
      int fd;
      ~StopWatching() { loop.remove_writer(fd); }
    } stop{loop, fd};
    for (;;) {
      Future<void> connected = Future<void>::create(loop);
      loop.add_writer(fd, [connected] {
        if (!connected.done()) connected.set_result();
      });
      co_await connected;
      result = sock.connect_result(fd);
      if (result != -EINPROGRESS) break;  // else spurious writability: wait again
    }
  }
  if (result < 0) std::rethrow_exception(make_os_error(-result, fmt::format("{}({}:{})", who, host, port)));
  co_return guard.release();
}

// ---- ProtocolServerState ------------------------------------------------------------

ProtocolServerState::ProtocolServerState(EventLoop& loop, SocketLayer& sock, int fd, ProtocolFactory factory,
                                         int backlog)
    : loop_(&loop), sock_(&sock), fd_(fd), factory_(std::move(factory)), backlog_(backlog) {}

ProtocolServerState::~ProtocolServerState() {
  if (fd_ >= 0) sock_->close(fd_);
}

void ProtocolServerState::start() {
  auto self = shared_from_this();
  loop_->add_reader(fd_, [self] { self->accept_ready(); });
}

void ProtocolServerState::close() {
  if (fd_ < 0) return;
  auto self = shared_from_this();  // dropping the accept callback may drop the last other reference
  loop_->remove_reader(fd_);
  sock_->close(fd_);
  fd_ = -1;
  if (active_ == 0) wakeup();
}

void ProtocolServerState::detach() {
  --active_;
  if (active_ == 0 && fd_ < 0) wakeup();
}

void ProtocolServerState::wakeup() {
  closed_ = true;
  std::vector<Future<void>> waiters;
  waiters.swap(waiters_);
  for (auto& w : waiters) {
    if (!w.done()) w.set_result();
  }
}

Coro<void> ProtocolServerState::wait_closed() {
  if (closed_) co_return;
  Future<void> waiter = Future<void>::create(*loop_);
  waiters_.push_back(waiter);
  co_await waiter;
}

namespace {
// asyncio's _accept_connection2: a task of its own per accepted connection.
Coro<void> accept_connection(std::shared_ptr<ProtocolServerState> server, FdGuard accepted) {
  std::shared_ptr<BaseProtocol> protocol;
  std::exception_ptr error;
  try {
    protocol = server->factory_();
    if (!protocol) throw Error("create_server: the protocol factory returned null");
  } catch (...) {  // reported below; the accepted socket is closed by its guard
    error = std::current_exception();
  }
  if (error) {
    server->loop_->call_exception_handler({"Error on transport creation for incoming connection", error,
                                           fmt::format("server on port {}", server->port_)});
    co_return;
  }
  auto transport = std::make_shared<SocketTransport>(*server->loop_, *server->sock_, accepted.release(), protocol);
  transport->set_server(server);
  ++server->active_;
  transport->start();
  co_await transport_ready(transport);
}
}  // namespace

void ProtocolServerState::accept_ready() {
  for (int i = 0; i < backlog_ && fd_ >= 0; ++i) {
    const int fd = sock_->accept(fd_);
    if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED) return;
    if (fd < 0) {
      loop_->call_exception_handler(
          {"Socket accept failed", make_os_error(-fd, "accept"), fmt::format("server on port {}", port_)});
      return;
    }
    loop_->create_task(accept_connection(shared_from_this(), FdGuard(sock_, fd)));
  }
}

// ---- create_connection / create_server ----------------------------------------------

Coro<std::pair<std::shared_ptr<Transport>, std::shared_ptr<BaseProtocol>>> create_connection_erased(
    ProtocolFactory factory, std::string host, int port, std::string local_host) {
  EventLoop& loop = EventLoop::running_or_throw("create_connection");
  SocketLayer& sock = sockets_of(loop);
  if (!factory) throw Error("create_connection: the protocol factory is empty");
  FdGuard fd(&sock, co_await connect_socket(loop, sock, host, port, local_host, "create_connection"));
  std::shared_ptr<BaseProtocol> protocol = factory();
  if (!protocol) throw Error("create_connection: the protocol factory returned null");
  auto transport = std::make_shared<SocketTransport>(loop, sock, fd.fd, protocol);
  fd.release();
  transport->start();
  co_await transport_ready(transport);
  co_return std::pair<std::shared_ptr<Transport>, std::shared_ptr<BaseProtocol>>(transport, protocol);
}

namespace {
// The resolution task create_server gathers: nothing to resolve on a
// SocketLayer (it takes host names as they are), but the same iterations.
Coro<void> resolve_listen_address() { co_return; }
}  // namespace

Coro<std::shared_ptr<ProtocolServerState>> start_protocol_server(ProtocolFactory factory, std::string host, int port,
                                                                 int backlog, std::string who) {
  EventLoop& loop = EventLoop::running_or_throw(who.c_str());
  SocketLayer& sock = sockets_of(loop);
  if (!factory) throw Error(fmt::format("{}: the protocol factory is empty", who));
  if (port < 0 || port > 65535) throw Error(fmt::format("{}: port {} is out of range 0..65535", who, port));
  if (backlog <= 0) throw Error(fmt::format("{}: the backlog must be positive", who));
  // `infos = await tasks.gather(*fs)`: one resolution task per host.
  auto resolved = gather(resolve_listen_address());
  co_await resolved;
  const int fd = sock.listen(host, port, backlog);
  if (fd < 0) std::rethrow_exception(make_os_error(-fd, fmt::format("{}({}:{})", who, host, port)));
  auto st = std::make_shared<ProtocolServerState>(loop, sock, fd, std::move(factory), backlog);
  st->port_ = sock.local_port(fd);
  st->start();
  // "Skip one loop iteration so that all 'loop.add_reader' go through."
  co_await sleep(Duration{0});
  co_return st;
}

}  // namespace detail

namespace {
Coro<ProtocolServer> create_server_impl(ProtocolFactory factory, std::string host, int port, int backlog) {
  std::shared_ptr<detail::ProtocolServerState> st =
      co_await detail::start_protocol_server(std::move(factory), std::move(host), port, backlog, "create_server");
  co_return ProtocolServer(std::move(st));
}
}  // namespace

Coro<ProtocolServer> create_server(ProtocolFactory factory, std::string host, int port, int backlog) {
  return create_server_impl(std::move(factory), std::move(host), port, backlog);
}

int ProtocolServer::port() const { return s_->port_; }
bool ProtocolServer::is_serving() const { return s_->fd_ >= 0; }
void ProtocolServer::close() const { s_->close(); }
Coro<void> ProtocolServer::wait_closed() const { return s_->wait_closed(); }
std::size_t ProtocolServer::active_connections() const { return s_->active_; }

}  // namespace simloop
