// Streams: asyncio's high-level stream API (open_connection, start_server,
// StreamReader, StreamWriter), over any selector that is also a SocketLayer:
// the real EpollSelector and the simulated fakes::FakeSelector alike.
//
// Contract (CPython 3.13's streams.py and selector_events.py):
//  - StreamReader buffers what the transport reads. read(n) returns up to n
//    bytes (n < 0: everything up to EOF), "" at EOF; readexactly(n) raises
//    IncompleteReadError at EOF before n bytes; readuntil(sep) returns data
//    up to and including sep, raising IncompleteReadError at EOF and
//    LimitOverrunError when sep is not within `limit` bytes (the data stays
//    buffered); readline() is readuntil("\n") that returns a partial last
//    line at EOF and, on overrun, drops the line and raises
//    InvalidArgumentError (asyncio's ValueError) with the overrun's message. Only one coroutine may wait for data
//    at a time. Reading pauses when more than 2*limit bytes are buffered and
//    resumes once the buffer drops to limit. A transport error (a reset, say)
//    is raised by the next read once the connection is lost.
//  - StreamWriter::write() sends at once what the socket takes and buffers
//    the rest; above the high-water mark (64 KiB) drain() waits until the
//    buffer is below the low-water mark (16 KiB). drain() raises the
//    connection's error, or ConnectionResetError once it is lost. write()
//    after the connection is lost drops the data, as asyncio does.
//  - close() closes once the buffer is flushed; wait_closed() waits for it
//    (and raises the connection's error, if any). write_eof() half-closes.
//  - A connection is set up in as many loop iterations as asyncio takes
//    (selector_events' transport: connection_made, then reading, then the
//    creator's waiter, each with call_soon; an accepted connection gets a
//    task of its own for that): open_connection returns, and the server's
//    callback starts, on the same iterations as in CPython (a conformance
//    scenario compares them).
//  - start_server() calls the callback in a new task for each connection;
//    a callback that raises gets its connection closed and the exception
//    reported to the loop's exception handler. Server::wait_closed() waits
//    until the server is closed and every connection is gone (3.12+).
//  - Readers, writers and servers are shared handles; like futures they
//    must not outlive their EventLoop. A connection nobody closes stays open
//    (and is reported by the fakes' leak check).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <simloop/coro.hpp>
#include <simloop/errors.hpp>
#include <simloop/protocols.hpp>
#include <simloop/sockets.hpp>

namespace simloop {

// asyncio's OSError family, with the errno they carry.
class OSError : public Error {
 public:
  OSError(int code, const std::string& message) : Error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};
class ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class BrokenPipeError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionRefusedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionAbortedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
// The OSError subclass for `code` (a positive errno), as an exception_ptr;
// the message is "<what>: [Errno <code>] <text>".
std::exception_ptr make_os_error(int code, const std::string& what);

// EOF before the expected number of bytes (expected is empty for readuntil).
class IncompleteReadError : public Error {
 public:
  IncompleteReadError(std::string partial, std::optional<std::size_t> expected);
  const std::string& partial() const noexcept { return partial_; }
  std::optional<std::size_t> expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};
// The separator was not found within the reader's limit.
class LimitOverrunError : public Error {
 public:
  LimitOverrunError(const std::string& message, std::size_t consumed) : Error(message), consumed_(consumed) {}
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

inline constexpr std::size_t kStreamLimit = 64 * 1024;

// Not an aggregate on purpose: GCC 12 miscompiles an aggregate temporary
// (such as the default `{}`) inside a co_await expression (it frees it
// twice). Set fields on a named object: StreamOptions o; o.limit = 1024;
struct StreamOptions {
  StreamOptions() {}                 // NOLINT: user-provided, see above
  std::size_t limit = kStreamLimit;  // the reader's buffer limit
  std::string local_host;            // open_connection: where to connect from (empty: any)
  int backlog = 100;                 // start_server: the listen backlog
};

namespace detail {
class StreamState;
class SocketTransport;
class ProtocolServerState;
}  // namespace detail

class StreamReader {
 public:
  StreamReader() = default;
  explicit StreamReader(std::shared_ptr<detail::StreamState> s) : s_(std::move(s)) {}

  Coro<std::string> read(std::ptrdiff_t n = -1) const;
  Coro<std::string> readexactly(std::size_t n) const;
  Coro<std::string> readline() const;
  Coro<std::string> readuntil(std::string separator = "\n") const;
  // EOF was received and the buffer is empty.
  bool at_eof() const;
  // The error the connection was lost with, if any.
  std::exception_ptr exception() const;
  // Bytes buffered and not read yet.
  std::size_t buffered() const;
  explicit operator bool() const noexcept { return static_cast<bool>(s_); }

 private:
  std::shared_ptr<detail::StreamState> s_;
};

class StreamWriter {
 public:
  StreamWriter() = default;
  StreamWriter(std::shared_ptr<detail::StreamState> s, std::shared_ptr<detail::SocketTransport> t)
      : s_(std::move(s)), t_(std::move(t)) {}

  void write(std::string_view data) const;
  void write_eof() const;
  bool can_write_eof() const noexcept { return true; }
  Coro<void> drain() const;
  void close() const;
  // Closes at once, dropping buffered data (transport.abort()).
  void abort() const;
  bool is_closing() const;
  Coro<void> wait_closed() const;
  // Bytes written and not yet accepted by the socket.
  std::size_t write_buffer_size() const;
  // get_extra_info("peername"), as "host:port".
  std::string peer_name() const;
  // The file descriptor (or simulated endpoint id).
  int fd() const;
  // The transport under the stream (StreamWriter.transport): extra info,
  // write buffer limits, pause_reading / resume_reading.
  std::shared_ptr<Transport> transport() const;
  explicit operator bool() const noexcept { return static_cast<bool>(s_); }

 private:
  std::shared_ptr<detail::StreamState> s_;
  std::shared_ptr<detail::SocketTransport> t_;
};

using StreamPair = std::pair<StreamReader, StreamWriter>;
// Called in a new task for each accepted connection.
using ClientConnected = std::function<Coro<void>(StreamReader, StreamWriter)>;

// start_server's server: asyncio.Server, the same object create_server returns.
using Server = ProtocolServer;

// asyncio.open_connection: connects to host:port on the running loop.
// Raises ConnectionRefusedError, OSError, ... when the connection fails.
Coro<StreamPair> open_connection(std::string host, int port, StreamOptions options = {});
// asyncio.start_server: listens on host:port (0: any free port).
Coro<Server> start_server(ClientConnected client_connected, std::string host, int port, StreamOptions options = {});
// Which way a stream made by open_stream carries data.
enum class StreamMode { ReadWrite, ReadOnly, WriteOnly };
// Streams over a descriptor the loop's SocketLayer made (a socketpair end:
// ReadWrite; a pipe's read end: ReadOnly; its write end: WriteOnly); the
// stream owns it from now on. Writing to a ReadOnly stream raises Error; a
// WriteOnly stream's reader sees EOF only when it is closed.
StreamPair open_stream(EventLoop& loop, int fd, StreamMode mode = StreamMode::ReadWrite, StreamOptions options = {});

}  // namespace simloop
