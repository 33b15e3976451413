// Streams: a transport (selector_events' _SelectorSocketTransport) and the
// StreamReader / StreamWriter / StreamReaderProtocol of asyncio's streams.py,
// merged into one shared state per connection.
#include <simloop/streams.hpp>

#include <cerrno>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include <simloop/awaitables.hpp>
#include <simloop/sleep.hpp>
#include <simloop/task.hpp>

namespace simloop {

std::exception_ptr make_os_error(int code, const std::string& what) {
  std::string message = fmt::format("{}: [Errno {}] {}", what, code, std::generic_category().message(code));
  switch (code) {
    case ECONNRESET: return std::make_exception_ptr(ConnectionResetError(code, message));
    case EPIPE: return std::make_exception_ptr(BrokenPipeError(code, message));
    case ECONNREFUSED: return std::make_exception_ptr(ConnectionRefusedError(code, message));
    case ECONNABORTED: return std::make_exception_ptr(ConnectionAbortedError(code, message));
    default: return std::make_exception_ptr(OSError(code, message));
  }
}

IncompleteReadError::IncompleteReadError(std::string partial, std::optional<std::size_t> expected)
    : Error(fmt::format("{} bytes read on a total of {} expected bytes", partial.size(),
                        expected ? std::to_string(*expected) : std::string("undefined"))),
      partial_(std::move(partial)),
      expected_(expected) {}

SocketLayer& sockets_of(EventLoop& loop) {
  auto* layer = dynamic_cast<SocketLayer*>(&loop.selector());
  if (layer == nullptr) {
    throw Error(
        "streams: this loop's selector carries no sockets; use make_real_loop() for real sockets, or build the "
        "SimLoop with a fakes::FakeSelector for simulated ones");
  }
  return *layer;
}

namespace detail {

namespace {
constexpr std::size_t kMaxReadSize = 256 * 1024;  // selector_events.max_size
constexpr std::size_t kHighWater = 64 * 1024;     // FlowControlMixin defaults
constexpr std::size_t kLowWater = kHighWater / 4;
}  // namespace

class StreamState;

class ServerState : public std::enable_shared_from_this<ServerState> {
 public:
  ServerState(EventLoop& loop, SocketLayer& sock, int fd, ClientConnected cb, StreamOptions options)
      : loop_(&loop), sock_(&sock), fd_(fd), cb_(std::move(cb)), options_(std::move(options)) {}
  ~ServerState() {
    if (fd_ >= 0) sock_->close(fd_);
  }

  void start() {
    auto self = shared_from_this();
    loop_->add_reader(fd_, [self] { self->accept_ready(); });
  }
  void accept_ready();
  void connection_made(const std::shared_ptr<StreamState>& st);
  void close() {
    if (fd_ < 0) return;
    auto self = shared_from_this();  // dropping the accept callback may drop the last other reference
    loop_->remove_reader(fd_);
    sock_->close(fd_);
    fd_ = -1;
    if (active_ == 0) wakeup();
  }
  void detach() {
    --active_;
    if (active_ == 0 && fd_ < 0) wakeup();
  }
  void wakeup() {
    closed_ = true;
    std::vector<Future<void>> waiters;
    waiters.swap(waiters_);
    for (auto& w : waiters) {
      if (!w.done()) w.set_result();
    }
  }

  EventLoop* loop_;
  SocketLayer* sock_;
  int fd_;
  int port_ = 0;
  ClientConnected cb_;
  StreamOptions options_;
  std::size_t active_ = 0;
  bool closed_ = false;  // closed and no connection left (asyncio: _waiters is None)
  std::vector<Future<void>> waiters_;
};

class StreamState : public std::enable_shared_from_this<StreamState> {
 public:
  StreamState(EventLoop& loop, SocketLayer& sock, int fd, std::size_t limit, StreamMode mode)
      : loop_(&loop), sock_(&sock), fd_(fd), limit_(limit), mode_(mode), closed_(Future<void>::create(loop)) {
    if (limit_ == 0) throw Error("streams: the reader limit must be positive");
  }
  ~StreamState() {
    // Normally the fd is closed by connection_lost; a stream dropped with the
    // loop (never closed) still releases its descriptor.
    if (!fd_closed_) sock_->close(fd_);
  }

  void start_reading() {
    if (mode_ == StreamMode::WriteOnly) return;
    auto self = shared_from_this();
    loop_->add_reader(fd_, [self] { self->read_ready(); });
  }

  // ---- the reader (StreamReader's side) ------------------------------------
  void feed_data(const char* data, std::size_t n) {
    buffer_.append(data, n);
    wakeup_waiter();
    if (!paused_reading_ && buffer_.size() > 2 * limit_) {
      paused_reading_ = true;
      loop_->remove_reader(fd_);
    }
  }
  void feed_eof() {
    eof_ = true;
    wakeup_waiter();
  }
  void set_exception(std::exception_ptr e) {
    exception_ = e;
    if (waiter_ && !waiter_.done()) {
      waiter_.set_exception(e);
      (void)waiter_.exception();  // the reader raises exception_ itself; no "never retrieved" report
    }
  }
  void wakeup_waiter() {
    if (waiter_ && !waiter_.done()) waiter_.set_result();
  }
  void maybe_resume_reading() {
    if (paused_reading_ && buffer_.size() <= limit_) {
      paused_reading_ = false;
      if (!reading_stopped_ && !closing_) {
        auto self = shared_from_this();
        loop_->add_reader(fd_, [self] { self->read_ready(); });
      }
    }
  }
  std::string take(std::size_t n) {
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    maybe_resume_reading();
    return out;
  }

  // ---- the transport -------------------------------------------------------
  void read_ready() {
    if (conn_lost_ > 0) return;
    thread_local std::vector<char> chunk(kMaxReadSize);
    std::ptrdiff_t n = sock_->read(fd_, chunk.data(), chunk.size());
    if (n == -EAGAIN || n == -EINTR) return;  // spurious readiness
    if (n < 0) {
      fatal_error(make_os_error(static_cast<int>(-n), "read"));
      return;
    }
    if (n == 0) {
      // StreamReaderProtocol.eof_received keeps the transport open for
      // writing (a half-close); only reading stops.
      feed_eof();
      reading_stopped_ = true;
      loop_->remove_reader(fd_);
      return;
    }
    feed_data(chunk.data(), static_cast<std::size_t>(n));
  }

  void write(std::string_view data) {
    if (mode_ == StreamMode::ReadOnly) throw Error("StreamWriter::write: this stream is read-only (a pipe's read end)");
    if (eof_requested_) throw Error("StreamWriter::write: called after write_eof()");
    if (data.empty()) return;
    if (conn_lost_ > 0) return;  // asyncio drops writes on a lost connection (and logs after a few)
    if (wbuf_size() == 0) {
      std::ptrdiff_t n = sock_->write(fd_, data.data(), data.size());
      if (n == -EAGAIN || n == -EINTR) {
        n = 0;
      } else if (n < 0) {
        fatal_error(make_os_error(static_cast<int>(-n), "write"));
        return;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
      if (data.empty()) return;
      auto self = shared_from_this();
      loop_->add_writer(fd_, [self] { self->write_ready(); });
    }
    wbuf_.append(data);
    maybe_pause_protocol();
  }

  void write_ready() {
    if (conn_lost_ > 0 || wbuf_size() == 0) return;
    std::ptrdiff_t n = sock_->write(fd_, wbuf_.data() + woff_, wbuf_size());
    if (n == -EAGAIN || n == -EINTR) return;
    if (n < 0) {
      loop_->remove_writer(fd_);
      wbuf_.clear();
      woff_ = 0;
      fatal_error(make_os_error(static_cast<int>(-n), "write"));
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
    maybe_resume_protocol();
    if (wbuf_size() == 0) {
      loop_->remove_writer(fd_);
      if (closing_) {
        call_connection_lost(nullptr);
      } else if (eof_requested_) {
        sock_->shutdown_write(fd_);
      }
    }
  }

  void write_eof() {
    if (closing_ || eof_requested_) return;
    eof_requested_ = true;
    if (wbuf_size() == 0) sock_->shutdown_write(fd_);
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    loop_->remove_reader(fd_);
    if (wbuf_size() == 0) {
      ++conn_lost_;
      loop_->remove_writer(fd_);
      auto self = shared_from_this();
      loop_->call_soon([self] { self->call_connection_lost(nullptr); });
    }
  }

  void force_close(std::exception_ptr exc) {
    if (conn_lost_ > 0) return;
    if (wbuf_size() > 0) {
      wbuf_.clear();
      woff_ = 0;
      loop_->remove_writer(fd_);
    }
    if (!closing_) {
      closing_ = true;
      loop_->remove_reader(fd_);
    }
    ++conn_lost_;
    auto self = shared_from_this();
    loop_->call_soon([self, exc] { self->call_connection_lost(exc); });
  }
  void fatal_error(std::exception_ptr exc) { force_close(std::move(exc)); }

  // connection_lost of the protocol, then the socket is closed.
  void call_connection_lost(std::exception_ptr exc) {
    if (fd_closed_) return;
    if (exc) {
      set_exception(exc);
    } else {
      feed_eof();
    }
    if (!closed_.done()) {
      if (exc) {
        closed_.set_exception(exc);
        (void)closed_.exception();  // as asyncio: nobody has to await wait_closed()
      } else {
        closed_.set_result();
      }
    }
    connection_lost_ = true;
    write_paused_ = false;
    std::vector<Future<void>> waiters;
    waiters.swap(drain_waiters_);
    for (auto& w : waiters) {
      if (w.done()) continue;
      if (exc) {
        w.set_exception(exc);
      } else {
        w.set_result();
      }
    }
    sock_->close(fd_);
    fd_closed_ = true;
    if (server_) {
      std::shared_ptr<ServerState> server = std::move(server_);
      server->detach();
    }
  }

  void maybe_pause_protocol() {
    if (!write_paused_ && wbuf_size() > kHighWater) write_paused_ = true;
  }
  void maybe_resume_protocol() {
    if (write_paused_ && wbuf_size() <= kLowWater) {
      write_paused_ = false;
      std::vector<Future<void>> waiters;
      waiters.swap(drain_waiters_);
      for (auto& w : waiters) {
        if (!w.done()) w.set_result();
      }
    }
  }
  std::size_t wbuf_size() const noexcept { return wbuf_.size() - woff_; }

  EventLoop* loop_;
  SocketLayer* sock_;
  int fd_;
  std::size_t limit_;
  StreamMode mode_;
  // reader
  std::string buffer_;
  bool eof_ = false;
  std::exception_ptr exception_;
  Future<void> waiter_;
  bool paused_reading_ = false;
  bool reading_stopped_ = false;  // EOF seen: never read again
  // transport / writer
  std::string wbuf_;
  std::size_t woff_ = 0;
  bool closing_ = false;
  bool eof_requested_ = false;
  int conn_lost_ = 0;
  bool fd_closed_ = false;
  bool write_paused_ = false;
  bool connection_lost_ = false;
  std::vector<Future<void>> drain_waiters_;
  Future<void> closed_;
  std::shared_ptr<ServerState> server_;  // set for accepted connections
};

namespace {

// The transport set-up asyncio's _SelectorSocketTransport.__init__ schedules,
// and the waiter its creator awaits: connection_made, then reading, then the
// waiter's wakeup, each with call_soon. A new connection is usable two
// iterations after it is set up, as in asyncio; on error or cancellation the
// connection is closed (the creator's `except: transport.close(); raise`).
Coro<void> transport_ready(std::shared_ptr<StreamState> st, std::function<void()> connection_made) {
  EventLoop& loop = *st->loop_;
  if (connection_made) loop.call_soon(std::move(connection_made));
  loop.call_soon([st] {
    if (!st->closing_) st->start_reading();
  });
  Future<void> waiter = Future<void>::create(loop);
  loop.call_soon([waiter] {
    if (!waiter.done()) waiter.set_result();  // futures._set_result_unless_cancelled
  });
  const std::exception_ptr error = co_await settle(waiter);
  if (error) {
    st->close();
    std::rethrow_exception(error);
  }
}

// An accepted descriptor not yet owned by a stream: closed if the task that
// would set up its connection never runs (the loop closes first).
struct AcceptedFd {
  SocketLayer* sock;
  int fd;
  AcceptedFd(SocketLayer* s, int f) noexcept : sock(s), fd(f) {}
  AcceptedFd(AcceptedFd&& o) noexcept : sock(o.sock), fd(std::exchange(o.fd, -1)) {}
  AcceptedFd(const AcceptedFd&) = delete;
  AcceptedFd& operator=(const AcceptedFd&) = delete;
  AcceptedFd& operator=(AcceptedFd&&) = delete;
  ~AcceptedFd() {
    if (fd >= 0) sock->close(fd);
  }
};

// asyncio's _accept_connection2: a task of its own per accepted connection.
Coro<void> accept_connection(std::shared_ptr<ServerState> server, AcceptedFd accepted) {
  const int fd = std::exchange(accepted.fd, -1);
  auto st =
      std::make_shared<StreamState>(*server->loop_, *server->sock_, fd, server->options_.limit, StreamMode::ReadWrite);
  st->server_ = server;
  ++server->active_;
  // A named callback, not a temporary in the co_await expression: GCC 12
  // destroys such a temporary twice.
  std::function<void()> connection_made = [server, st] { server->connection_made(st); };
  co_await transport_ready(st, std::move(connection_made));
}

}  // namespace

void ServerState::accept_ready() {
  for (int i = 0; i < options_.backlog && fd_ >= 0; ++i) {
    int fd = sock_->accept(fd_);
    if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED) return;
    if (fd < 0) {
      loop_->call_exception_handler(
          {"Socket accept failed", make_os_error(-fd, "accept"), fmt::format("server on port {}", port_)});
      return;
    }
    loop_->create_task(accept_connection(shared_from_this(), AcceptedFd(sock_, fd)));
  }
}

// StreamReaderProtocol.connection_made: the callback runs in a task.
void ServerState::connection_made(const std::shared_ptr<StreamState>& st) {
  Task<void> task = loop_->create_task(cb_(StreamReader(st), StreamWriter(st)));
  EventLoop* loop = loop_;
  task.add_done_callback([st, loop](Future<void>& f) {
    if (f.cancelled()) {
      st->close();
      return;
    }
    if (std::exception_ptr e = f.exception()) {
      loop->call_exception_handler({"Unhandled exception in client_connected_cb", e,
                                    fmt::format("connection from {}", st->sock_->peer_name(st->fd_))});
      st->close();
    }
  });
}

namespace {

// Waits until data or EOF arrives (StreamReader._wait_for_data).
Coro<void> wait_for_data(std::shared_ptr<StreamState> s, const char* func_name) {
  if (s->waiter_) {
    throw Error(fmt::format("StreamReader::{}() called while another coroutine is already waiting for incoming data",
                            func_name));
  }
  if (s->paused_reading_) {
    s->paused_reading_ = false;
    if (!s->reading_stopped_ && !s->closing_) {
      std::shared_ptr<StreamState> self = s;
      s->loop_->add_reader(s->fd_, [self] { self->read_ready(); });
    }
  }
  Future<void> waiter = Future<void>::create(*s->loop_);
  s->waiter_ = waiter;
  struct Reset {
    StreamState* s;
    ~Reset() { s->waiter_ = Future<void>(); }
  } reset{s.get()};
  co_await waiter;
}

void raise_if_failed(const StreamState& s) {
  if (s.exception_) std::rethrow_exception(s.exception_);
}

Coro<std::string> read_impl(std::shared_ptr<StreamState> s, std::ptrdiff_t n) {
  raise_if_failed(*s);
  if (n == 0) co_return std::string();
  if (n < 0) {
    // Everything up to EOF, read in chunks of `limit` as asyncio does.
    std::string all;
    for (;;) {
      raise_if_failed(*s);
      if (s->buffer_.empty() && !s->eof_) co_await wait_for_data(s, "read");
      raise_if_failed(*s);
      if (s->buffer_.empty() && s->eof_) break;
      all += s->take(std::min(s->limit_, s->buffer_.size()));
    }
    co_return all;
  }
  if (s->buffer_.empty() && !s->eof_) co_await wait_for_data(s, "read");
  raise_if_failed(*s);
  co_return s->take(std::min(static_cast<std::size_t>(n), s->buffer_.size()));
}

Coro<std::string> readexactly_impl(std::shared_ptr<StreamState> s, std::size_t n) {
  raise_if_failed(*s);
  if (n == 0) co_return std::string();
  while (s->buffer_.size() < n) {
    if (s->eof_) {
      std::string partial = std::move(s->buffer_);
      s->buffer_.clear();
      throw IncompleteReadError(std::move(partial), n);
    }
    co_await wait_for_data(s, "readexactly");
    raise_if_failed(*s);
  }
  co_return s->take(n);
}

Coro<std::string> readuntil_impl(std::shared_ptr<StreamState> s, std::string sep) {
  if (sep.empty()) throw Error("StreamReader::readuntil: the separator must be at least one byte");
  raise_if_failed(*s);
  const std::size_t seplen = sep.size();
  std::size_t offset = 0;
  std::size_t isep = 0;
  for (;;) {
    const std::size_t buflen = s->buffer_.size();
    if (buflen >= offset + seplen) {
      std::size_t found = s->buffer_.find(sep, offset);
      if (found != std::string::npos) {
        isep = found;
        break;
      }
      offset = buflen + 1 - seplen;
      if (offset > s->limit_) throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
    }
    if (s->eof_) {
      std::string chunk = std::move(s->buffer_);
      s->buffer_.clear();
      throw IncompleteReadError(std::move(chunk), std::nullopt);
    }
    co_await wait_for_data(s, "readuntil");
    raise_if_failed(*s);
  }
  if (isep > s->limit_) throw LimitOverrunError("Separator is found, but chunk is longer than limit", isep);
  co_return s->take(isep + seplen);
}

Coro<std::string> readline_impl(std::shared_ptr<StreamState> s) {
  std::optional<std::string> partial;
  std::optional<LimitOverrunError> overrun;
  std::string line;
  try {
    line = co_await readuntil_impl(s, "\n");
  } catch (IncompleteReadError& e) {
    partial = e.partial();
  } catch (LimitOverrunError& e) {
    overrun = e;
  }
  if (partial) co_return std::move(*partial);
  if (overrun) {
    if (s->buffer_.compare(overrun->consumed(), 1, "\n") == 0) {
      s->buffer_.erase(0, overrun->consumed() + 1);
    } else {
      s->buffer_.clear();
    }
    s->maybe_resume_reading();
    throw *overrun;
  }
  co_return line;
}

Coro<void> drain_impl(std::shared_ptr<StreamState> s) {
  raise_if_failed(*s);
  // Let a pending connection_lost run first, so drain() sees it.
  if (s->closing_) co_await sleep(Duration{0});
  if (s->connection_lost_) throw ConnectionResetError(ECONNRESET, "Connection lost");
  if (!s->write_paused_) co_return;
  Future<void> waiter = Future<void>::create(*s->loop_);
  s->drain_waiters_.push_back(waiter);
  struct Remove {
    StreamState* s;
    Future<void> w;
    ~Remove() { std::erase(s->drain_waiters_, w); }
  } remove{s.get(), waiter};
  co_await waiter;
}

Coro<void> wait_closed_impl(std::shared_ptr<StreamState> s) {
  Future<void> closed = s->closed_;
  co_await closed;
}

Coro<void> server_wait_closed_impl(std::shared_ptr<ServerState> s) {
  if (s->closed_) co_return;
  Future<void> waiter = Future<void>::create(*s->loop_);
  s->waiters_.push_back(waiter);
  co_await waiter;
}

std::shared_ptr<StreamState> state_or_throw(const std::shared_ptr<StreamState>& s, const char* what) {
  if (!s) throw Error(fmt::format("{}: this stream is empty (default-constructed)", what));
  return s;
}

}  // namespace
}  // namespace detail

// ---- StreamReader / StreamWriter / Server ---------------------------------------

Coro<std::string> StreamReader::read(std::ptrdiff_t n) const {
  return detail::read_impl(detail::state_or_throw(s_, "StreamReader::read"), n);
}
Coro<std::string> StreamReader::readexactly(std::size_t n) const {
  return detail::readexactly_impl(detail::state_or_throw(s_, "StreamReader::readexactly"), n);
}
Coro<std::string> StreamReader::readline() const {
  return detail::readline_impl(detail::state_or_throw(s_, "StreamReader::readline"));
}
Coro<std::string> StreamReader::readuntil(std::string separator) const {
  return detail::readuntil_impl(detail::state_or_throw(s_, "StreamReader::readuntil"), std::move(separator));
}
bool StreamReader::at_eof() const { return s_->eof_ && s_->buffer_.empty(); }
std::exception_ptr StreamReader::exception() const { return s_->exception_; }
std::size_t StreamReader::buffered() const { return s_->buffer_.size(); }

void StreamWriter::write(std::string_view data) const {
  detail::state_or_throw(s_, "StreamWriter::write")->write(data);
}
void StreamWriter::write_eof() const { s_->write_eof(); }
Coro<void> StreamWriter::drain() const { return detail::drain_impl(detail::state_or_throw(s_, "StreamWriter::drain")); }
void StreamWriter::close() const { s_->close(); }
void StreamWriter::abort() const { s_->force_close(nullptr); }
bool StreamWriter::is_closing() const { return s_->closing_; }
Coro<void> StreamWriter::wait_closed() const {
  return detail::wait_closed_impl(detail::state_or_throw(s_, "StreamWriter::wait_closed"));
}
std::size_t StreamWriter::write_buffer_size() const { return s_->wbuf_size(); }
std::string StreamWriter::peer_name() const { return s_->fd_closed_ ? std::string() : s_->sock_->peer_name(s_->fd_); }
int StreamWriter::fd() const { return s_->fd_; }

int Server::port() const { return s_->port_; }
bool Server::is_serving() const { return s_->fd_ >= 0; }
void Server::close() const { s_->close(); }
Coro<void> Server::wait_closed() const { return detail::server_wait_closed_impl(s_); }
std::size_t Server::active_connections() const { return s_->active_; }

// ---- open_connection / start_server / open_stream -------------------------------

namespace {
// The coroutines behind open_connection and start_server (the public
// functions only forward their arguments).
Coro<StreamPair> open_connection_impl(std::string host, int port, StreamOptions options) {
  EventLoop& loop = EventLoop::running_or_throw("open_connection");
  SocketLayer& sock = sockets_of(loop);
  if (port <= 0 || port > 65535) throw Error(fmt::format("open_connection: port {} is out of range 1..65535", port));
  int fd = sock.connect(host, port, options.local_host);
  if (fd < 0) std::rethrow_exception(make_os_error(-fd, fmt::format("open_connection({}:{})", host, port)));
  int result = sock.connect_result(fd);
  if (result == -EINPROGRESS) {
    Future<void> connected = Future<void>::create(loop);
    loop.add_writer(fd, [connected] {
      if (!connected.done()) connected.set_result();
    });
    struct Guard {
      EventLoop& loop;
      SocketLayer& sock;
      int fd;
      bool keep = false;
      ~Guard() {
        loop.remove_writer(fd);
        if (!keep) sock.close(fd);  // cancelled or failed: the socket goes
      }
    } guard{loop, sock, fd};
    for (;;) {
      co_await connected;
      result = sock.connect_result(fd);
      if (result != -EINPROGRESS) break;
      connected = Future<void>::create(loop);  // spurious writability: wait again
      loop.add_writer(fd, [connected] {
        if (!connected.done()) connected.set_result();
      });
    }
    if (result == 0) guard.keep = true;
  } else if (result < 0) {
    sock.close(fd);
  }
  if (result < 0) std::rethrow_exception(make_os_error(-result, fmt::format("open_connection({}:{})", host, port)));
  auto st = std::make_shared<detail::StreamState>(loop, sock, fd, options.limit, StreamMode::ReadWrite);
  co_await detail::transport_ready(st, nullptr);
  co_return StreamPair(StreamReader(st), StreamWriter(st));
}

Coro<Server> start_server_impl(ClientConnected client_connected, std::string host, int port, StreamOptions options) {
  EventLoop& loop = EventLoop::running_or_throw("start_server");
  SocketLayer& sock = sockets_of(loop);
  if (!client_connected) throw Error("start_server: the client_connected callback is empty");
  if (port < 0 || port > 65535) throw Error(fmt::format("start_server: port {} is out of range 0..65535", port));
  if (options.backlog <= 0) throw Error("start_server: the backlog must be positive");
  int fd = sock.listen(host, port, options.backlog);
  if (fd < 0) std::rethrow_exception(make_os_error(-fd, fmt::format("start_server({}:{})", host, port)));
  auto st = std::make_shared<detail::ServerState>(loop, sock, fd, std::move(client_connected), std::move(options));
  st->port_ = sock.local_port(fd);
  st->start();
  co_return Server(st);
}
}  // namespace

Coro<StreamPair> open_connection(std::string host, int port, StreamOptions options) {
  return open_connection_impl(std::move(host), port, std::move(options));
}

Coro<Server> start_server(ClientConnected client_connected, std::string host, int port, StreamOptions options) {
  return start_server_impl(std::move(client_connected), std::move(host), port, std::move(options));
}

StreamPair open_stream(EventLoop& loop, int fd, StreamMode mode, StreamOptions options) {
  SocketLayer& sock = sockets_of(loop);
  if (fd < 0) throw Error(fmt::format("open_stream: fd {} is not a descriptor", fd));
  auto st = std::make_shared<detail::StreamState>(loop, sock, fd, options.limit, mode);
  st->start_reading();
  return StreamPair(StreamReader(st), StreamWriter(st));
}

}  // namespace simloop
