// The stream transport and server behind create_connection, create_server
// and the streams: CPython 3.13's selector_events._SelectorSocketTransport
// and base_events.Server, over a SocketLayer (real sockets or the fake
// network). Internal: users see Transport and ProtocolServer.
//
// Invariants:
//  - protocol_ is set from construction until connection_lost has been
//    called (then dropped, as asyncio sets _protocol = None), so a protocol
//    holding its transport forms no cycle after the connection is lost.
//  - conn_lost_ > 0 once connection_lost is scheduled; from then on no
//    protocol method but that one is called, and reads and writes stop.
//  - The fd is closed exactly once: by call_connection_lost, or by the
//    destructor for a transport dropped with its loop.
//  - An open transport the loop watches for nothing (reading paused, or
//    stopped after a kept-open EOF) is held by a slot the loop keeps
//    (EventLoop::keep, made on first use) until it reads again or loses its
//    connection: the loop's callbacks are what own an open transport
//    (protocols.hpp), and a protocol holds it only by a plain pointer, as
//    CPython's protocol holds its transport (which keeps it alive there).
//    A transport still paused when its loop closes is freed by close(), its
//    fd closed by the destructor, never leaked.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <simloop/coro.hpp>
#include <simloop/future.hpp>
#include <simloop/protocols.hpp>
#include <simloop/sockets.hpp>

namespace simloop::detail {

class ProtocolServerState;

class SocketTransport final : public Transport, public std::enable_shared_from_this<SocketTransport> {
 public:
  // `readable` / `writable`: a pipe end carries one way only.
  SocketTransport(EventLoop& loop, SocketLayer& sock, int fd, std::shared_ptr<BaseProtocol> protocol,
                  bool readable = true, bool writable = true);
  ~SocketTransport() override;

  // Transport
  std::optional<std::string> get_extra_info(std::string_view name) const override;
  bool is_closing() const override { return closing_; }
  void close() override;
  EventLoop& get_loop() const override { return *loop_; }
  bool is_reading() const override { return !paused_ && !closing_ && !reading_stopped_; }
  void pause_reading() override;
  void resume_reading() override;
  void write(std::string_view data) override;
  void write_eof() override;
  bool can_write_eof() const override { return true; }
  void abort() override { force_close(nullptr); }
  std::size_t get_write_buffer_size() const override { return wbuf_.size() - woff_; }
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const override { return {low_water_, high_water_}; }
  void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override;

  // Schedules connection_made, then reading, as the transport's __init__
  // does; the creator then awaits a waiter scheduled after them.
  void start(std::function<void()> after_connection_made = nullptr);
  // Starts reading now (open_stream: no connection set-up).
  void start_reading_now();
  void force_close(std::exception_ptr exc);
  bool connection_lost() const noexcept { return conn_lost_ > 0 && fd_closed_; }
  int fd() const noexcept { return fd_; }
  SocketLayer& sockets() const noexcept { return *sock_; }
  std::string peer_name() const;
  void set_server(std::shared_ptr<ProtocolServerState> server) { server_ = std::move(server); }
  bool writable() const noexcept { return writable_; }

 private:
  void read_ready();
  void write_ready();
  void on_eof();
  void call_connection_lost(std::exception_ptr exc);
  void maybe_pause_protocol();
  void maybe_resume_protocol();
  // A protocol method raised: report it and close with that error.
  void protocol_raised(const char* what, std::exception_ptr e);
  void add_reader();

  EventLoop* loop_;
  SocketLayer* sock_;
  int fd_;
  std::shared_ptr<BaseProtocol> protocol_;
  Protocol* stream_protocol_ = nullptr;   // protocol_ as a Protocol, or null
  BufferedProtocol* buffered_ = nullptr;  // protocol_ as a BufferedProtocol, or null
  bool readable_;
  bool writable_;
  std::string wbuf_;
  std::size_t woff_ = 0;
  std::size_t high_water_;
  std::size_t low_water_;
  bool protocol_paused_ = false;  // pause_writing() called, resume_writing() not yet
  bool paused_ = false;           // pause_reading()
  bool reading_stopped_ = false;  // EOF seen and kept open: never read again
  // The loop-kept slot holding this while open and watched for nothing
  // (see above); null until first needed. pin() fills it, unpin() empties it
  // (returning the reference, to be released by the caller last).
  struct PinSlot;
  friend struct PinSlot;
  PinSlot* pin_slot_ = nullptr;
  void pin();
  std::shared_ptr<SocketTransport> unpin();
  bool closing_ = false;
  bool eof_requested_ = false;
  int conn_lost_ = 0;
  bool fd_closed_ = false;
  std::shared_ptr<ProtocolServerState> server_;
  std::string peername_;  // "host:port", empty when unknown (a pipe)
  std::string sockname_;
};

// Fatal-error text of a failed read or write, as an OSError of the errno.
std::exception_ptr os_error_of(int code, const std::string& what);

// The loop's exception handler, then the transport closes (create_server:
// an accepted connection's set-up task; connection_made of a protocol).
class ProtocolServerState : public std::enable_shared_from_this<ProtocolServerState> {
 public:
  ProtocolServerState(EventLoop& loop, SocketLayer& sock, int fd, ProtocolFactory factory, int backlog);
  ~ProtocolServerState();
  void start();
  void close();
  void detach();
  Coro<void> wait_closed();

  EventLoop* loop_;
  SocketLayer* sock_;
  int fd_;
  int port_ = 0;
  ProtocolFactory factory_;
  int backlog_;
  std::size_t active_ = 0;
  bool closed_ = false;  // closed and no connection left (asyncio: _waiters is None)

 private:
  void accept_ready();
  void wakeup();
  std::vector<Future<void>> waiters_;
};

// Waits for the waiter asyncio's transport schedules after connection_made
// and reading; on error or cancellation closes the transport and raises.
// Stream and datagram transports alike.
Coro<void> transport_ready(std::shared_ptr<BaseTransport> transport);

// Listens on host:port and starts accepting (create_server and
// start_server), in the loop iterations asyncio's create_server takes: each
// host is resolved in a task of its own, gathered
// (base_events._create_server_getaddrinfo), before the socket is bound, and
// once listening it skips one iteration (`await tasks.sleep(0)`). `who`
// names the caller in errors.
Coro<std::shared_ptr<ProtocolServerState>> start_protocol_server(ProtocolFactory factory, std::string host, int port,
                                                                 int backlog, std::string who);

// Connects to host:port (asyncio's sock_connect part of create_connection);
// returns the connected descriptor.
Coro<int> connect_socket(EventLoop& loop, SocketLayer& sock, std::string host, int port, std::string local_host,
                         std::string who);

}  // namespace simloop::detail
