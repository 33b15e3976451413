// Streams: a transport (selector_events' _SelectorSocketTransport) and the
// StreamReader / StreamWriter / StreamReaderProtocol of asyncio's streams.py,
// merged into one shared state per connection.
#include <simloop/streams.hpp>

#include <simloop/detail/socket_transport.hpp>
#include <simloop/primitive_errors.hpp>

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

// StreamReaderProtocol (with its FlowControlMixin) and the StreamReader's
// state: what the transport delivers, buffered for the reader, and the
// drain() waiters. The transport holds this protocol until connection_lost;
// this holds the transport weakly (the StreamWriter holds it strongly).
class StreamState final : public Protocol, public std::enable_shared_from_this<StreamState> {
 public:
  StreamState(EventLoop& loop, std::size_t limit, ClientConnected cb = {})
      : loop_(&loop), limit_(limit), cb_(std::move(cb)), closed_(Future<void>::create(loop)) {
    if (limit_ == 0) throw Error("streams: the reader limit must be positive");
  }

  // ---- the protocol ----------------------------------------------------------
  void connection_made(BaseTransport& transport) override {
    auto& t = static_cast<SocketTransport&>(transport);
    transport_ = t.weak_from_this();
    peer_ = t.peer_name();
    if (cb_) start_client_connected(t.shared_from_this());
  }
  void data_received(std::string_view data) override { feed_data(data); }
  bool eof_received() override {
    feed_eof();
    return true;  // keep the transport open for writing (a half-close)
  }
  void connection_lost(std::exception_ptr exc) override {
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
    wake_drain_waiters(exc);
  }
  void pause_writing() override { write_paused_ = true; }
  void resume_writing() override {
    write_paused_ = false;
    wake_drain_waiters(nullptr);
  }

  // ---- the reader ------------------------------------------------------------
  void feed_data(std::string_view data) {
    buffer_.append(data);
    wakeup_waiter();
    if (!paused_reading_ && buffer_.size() > 2 * limit_) {
      if (auto t = transport_.lock()) {
        t->pause_reading();
        paused_reading_ = true;
      }
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
      if (auto t = transport_.lock()) t->resume_reading();
    }
  }
  std::string take(std::size_t n) {
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    maybe_resume_reading();
    return out;
  }
  void close_transport() {
    if (auto t = transport_.lock()) t->close();
  }

  EventLoop* loop_;
  std::size_t limit_;
  ClientConnected cb_;
  std::weak_ptr<SocketTransport> transport_;
  std::string peer_;  // for reports after the connection is gone
  // reader
  std::string buffer_;
  bool eof_ = false;
  std::exception_ptr exception_;
  Future<void> waiter_;
  bool paused_reading_ = false;
  // writer (FlowControlMixin)
  bool write_paused_ = false;
  bool connection_lost_ = false;
  std::vector<Future<void>> drain_waiters_;
  Future<void> closed_;

 private:
  void wake_drain_waiters(std::exception_ptr exc) {
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
  }
  // StreamReaderProtocol.connection_made of a server: the callback runs in
  // a task; one that raises gets its connection closed and reported.
  void start_client_connected(std::shared_ptr<SocketTransport> transport) {
    auto st = shared_from_this();
    Task<void> task = loop_->create_task(cb_(StreamReader(st), StreamWriter(st, transport)));
    EventLoop* loop = loop_;
    task.add_done_callback([st, loop](Future<void>& f) {
      if (f.cancelled()) {
        st->close_transport();
        return;
      }
      if (std::exception_ptr e = f.exception()) {
        loop->call_exception_handler(
            {"Unhandled exception in client_connected_cb", e, fmt::format("connection from {}", st->peer_)});
        st->close_transport();
      }
    });
  }
};

namespace {

// Waits until data or EOF arrives (StreamReader._wait_for_data).
Coro<void> wait_for_data(std::shared_ptr<StreamState> s, const char* func_name) {
  if (s->waiter_) {
    throw Error(fmt::format("StreamReader::{}() called while another coroutine is already waiting for incoming data",
                            func_name));
  }
  if (s->paused_reading_) {
    s->paused_reading_ = false;
    if (auto t = s->transport_.lock()) t->resume_reading();
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
    // asyncio's readline raises ValueError(e.args[0]) here, not the
    // LimitOverrunError readuntil raised.
    throw InvalidArgumentError(overrun->what());
  }
  co_return line;
}

Coro<void> drain_impl(std::shared_ptr<StreamState> s, std::shared_ptr<SocketTransport> t) {
  raise_if_failed(*s);
  // Let a pending connection_lost run first, so drain() sees it.
  if (t->is_closing()) co_await sleep(Duration{0});
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

namespace {
detail::SocketTransport& transport_or_throw(const std::shared_ptr<detail::SocketTransport>& t, const char* what) {
  if (!t) throw Error(fmt::format("{}: this stream is empty (default-constructed)", what));
  return *t;
}
}  // namespace

void StreamWriter::write(std::string_view data) const {
  detail::SocketTransport& t = transport_or_throw(t_, "StreamWriter::write");
  if (!t.writable()) throw Error("StreamWriter::write: this stream is read-only (a pipe's read end)");
  t.write(data);
}
void StreamWriter::write_eof() const { transport_or_throw(t_, "StreamWriter::write_eof").write_eof(); }
Coro<void> StreamWriter::drain() const {
  transport_or_throw(t_, "StreamWriter::drain");
  return detail::drain_impl(detail::state_or_throw(s_, "StreamWriter::drain"), t_);
}
void StreamWriter::close() const { transport_or_throw(t_, "StreamWriter::close").close(); }
void StreamWriter::abort() const { transport_or_throw(t_, "StreamWriter::abort").abort(); }
bool StreamWriter::is_closing() const { return transport_or_throw(t_, "StreamWriter::is_closing").is_closing(); }
Coro<void> StreamWriter::wait_closed() const {
  return detail::wait_closed_impl(detail::state_or_throw(s_, "StreamWriter::wait_closed"));
}
std::size_t StreamWriter::write_buffer_size() const {
  return transport_or_throw(t_, "StreamWriter::write_buffer_size").get_write_buffer_size();
}
std::string StreamWriter::peer_name() const { return transport_or_throw(t_, "StreamWriter::peer_name").peer_name(); }
int StreamWriter::fd() const { return transport_or_throw(t_, "StreamWriter::fd").fd(); }
std::shared_ptr<Transport> StreamWriter::transport() const { return t_; }

// ---- open_connection / start_server / open_stream -------------------------------

namespace {
// The coroutines behind open_connection and start_server (the public
// functions only forward their arguments).
Coro<StreamPair> open_connection_impl(std::string host, int port, StreamOptions options) {
  EventLoop& loop = EventLoop::running_or_throw("open_connection");
  SocketLayer& sock = sockets_of(loop);
  auto st = std::make_shared<detail::StreamState>(loop, options.limit);
  const int fd = co_await detail::connect_socket(loop, sock, host, port, options.local_host, "open_connection");
  auto transport = std::make_shared<detail::SocketTransport>(loop, sock, fd, st);
  transport->start();
  co_await detail::transport_ready(transport);
  co_return StreamPair(StreamReader(st), StreamWriter(st, transport));
}

Coro<Server> start_server_impl(ClientConnected client_connected, std::string host, int port, StreamOptions options) {
  EventLoop& loop = EventLoop::running_or_throw("start_server");
  (void)sockets_of(loop);  // a loop without sockets is the first thing reported
  if (!client_connected) throw Error("start_server: the client_connected callback is empty");
  if (options.limit == 0) throw Error("streams: the reader limit must be positive");
  EventLoop* l = &loop;
  const std::size_t limit = options.limit;
  ProtocolFactory factory = [l, limit, cb = std::move(client_connected)]() -> std::shared_ptr<BaseProtocol> {
    return std::make_shared<detail::StreamState>(*l, limit, cb);
  };
  std::shared_ptr<detail::ProtocolServerState> st = co_await detail::start_protocol_server(
      std::move(factory), std::move(host), port, options.backlog, "start_server");
  co_return Server(std::move(st));
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
  auto st = std::make_shared<detail::StreamState>(loop, options.limit);
  auto transport = std::make_shared<detail::SocketTransport>(loop, sock, fd, st, mode != StreamMode::WriteOnly,
                                                             mode != StreamMode::ReadOnly);
  st->connection_made(*transport);
  transport->start_reading_now();
  return StreamPair(StreamReader(st), StreamWriter(st, transport));
}

}  // namespace simloop
