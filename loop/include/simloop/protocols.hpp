// Protocols and transports: asyncio's low-level networking layer
// (asyncio/protocols.py, transports.py and selector_events.py), which the
// streams stand on. It runs on any selector that carries sockets: real ones
// (make_real_loop(), epoll) and the fake network (fakes::FakeSelector).
//
// Contract:
//  - A transport calls its protocol from loop callbacks (readiness, the
//    scheduled connection_made / connection_lost); the one call made from
//    inside a user's call is pause_writing(), from write() when the buffer
//    crosses the high-water mark, as asyncio's _maybe_pause_protocol.
//  - connection_made(transport) is the first call and connection_lost(exc)
//    the last (exc null on a clean close or EOF, else the error), once each.
//    Between them: data_received / eof_received (Protocol), get_buffer /
//    buffer_updated (BufferedProtocol), datagram_received / error_received
//    (DatagramProtocol), and pause_writing / resume_writing.
//  - Flow control: when the write buffer grows above the high-water mark the
//    protocol's pause_writing() is called; when it drains to the low-water
//    mark or below, resume_writing(). Defaults: high 64 KiB, low 16 KiB
//    (set_write_buffer_limits(high, low): high only gives low = high / 4,
//    low only gives high = 4 * low, as asyncio).
//  - eof_received() returning false closes the transport (asyncio's
//    default); true keeps it open for writing (a half-close).
//  - Protocols are owned through std::shared_ptr: a transport holds its
//    protocol, the loop holds an open transport (through its reader/writer
//    callbacks and scheduled calls), so neither needs another owner while
//    the connection is open. A protocol must not hold its transport by
//    shared_ptr beyond connection_lost (drop it there), or the pair leaks.
//  - Errors raised from a protocol method go to the loop's exception handler
//    and close the transport with that error (asyncio's _fatal_error).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simloop/coro.hpp>

namespace simloop {

class EventLoop;

// A socket address: host and port ("peername", "sockname").
struct Address {
  std::string host;
  int port = 0;
  friend bool operator==(const Address&, const Address&) = default;
};

class BaseTransport;

// asyncio.BaseProtocol.
class BaseProtocol {
 public:
  virtual ~BaseProtocol() = default;
  virtual void connection_made(BaseTransport& transport) { (void)transport; }
  virtual void connection_lost(std::exception_ptr exc) { (void)exc; }
  virtual void pause_writing() {}
  virtual void resume_writing() {}
};

// asyncio.Protocol: a stream of bytes.
class Protocol : public BaseProtocol {
 public:
  virtual void data_received(std::string_view data) { (void)data; }
  // false (the default): the transport closes itself; true: it stays open
  // for writing.
  virtual bool eof_received() { return false; }
};

// asyncio.BufferedProtocol: the protocol lends the transport its buffer.
class BufferedProtocol : public BaseProtocol {
 public:
  // A buffer of at least one byte to read into; sizehint is what the
  // transport would like.
  virtual std::span<char> get_buffer(std::size_t sizehint) = 0;
  virtual void buffer_updated(std::size_t nbytes) = 0;
  virtual bool eof_received() { return false; }
};

// asyncio.DatagramProtocol.
class DatagramProtocol : public BaseProtocol {
 public:
  virtual void datagram_received(std::string_view data, const Address& from) {
    (void)data;
    (void)from;
  }
  // An error the socket reported (ECONNREFUSED after a send to a closed
  // port, say); the transport stays open.
  virtual void error_received(std::exception_ptr exc) { (void)exc; }
};

// asyncio.BaseTransport.
class BaseTransport {
 public:
  virtual ~BaseTransport() = default;
  // "peername" and "sockname" (as "host:port"); nullopt for any other name
  // or when unknown.
  virtual std::optional<std::string> get_extra_info(std::string_view name) const = 0;
  virtual bool is_closing() const = 0;
  // Closes after the buffered data is sent; connection_lost(null) follows.
  virtual void close() = 0;
  virtual EventLoop& get_loop() const = 0;
};

// asyncio.Transport (ReadTransport + WriteTransport).
class Transport : public BaseTransport {
 public:
  virtual bool is_reading() const = 0;
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  virtual void write(std::string_view data) = 0;
  virtual void writelines(const std::vector<std::string_view>& lines) {
    for (std::string_view l : lines) write(l);
  }
  virtual void write_eof() = 0;
  virtual bool can_write_eof() const = 0;
  // Closes at once, dropping buffered data; connection_lost(null) follows.
  virtual void abort() = 0;
  virtual std::size_t get_write_buffer_size() const = 0;
  // {low, high}, as asyncio returns them.
  virtual std::pair<std::size_t, std::size_t> get_write_buffer_limits() const = 0;
  virtual void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                       std::optional<std::size_t> low = std::nullopt) = 0;
};

// asyncio.DatagramTransport.
class DatagramTransport : public BaseTransport {
 public:
  // To `to`, or to the connected peer (remote address given at creation).
  virtual void sendto(std::string_view data, std::optional<Address> to = std::nullopt) = 0;
  virtual void abort() = 0;
  virtual std::size_t get_write_buffer_size() const = 0;
};

// asyncio.Server of loop.create_server.
namespace detail {
class ProtocolServerState;
}
class ProtocolServer {
 public:
  ProtocolServer() = default;
  explicit ProtocolServer(std::shared_ptr<detail::ProtocolServerState> s) : s_(std::move(s)) {}
  int port() const;
  bool is_serving() const;
  // Stops listening; open connections stay open.
  void close() const;
  // Until closed and every connection it accepted is lost.
  Coro<void> wait_closed() const;
  std::size_t active_connections() const;

 private:
  std::shared_ptr<detail::ProtocolServerState> s_;
};

using ProtocolFactory = std::function<std::shared_ptr<BaseProtocol>()>;

template <class P>
struct Connection {
  std::shared_ptr<Transport> transport;
  std::shared_ptr<P> protocol;
};

namespace detail {
Coro<std::pair<std::shared_ptr<Transport>, std::shared_ptr<BaseProtocol>>> create_connection_erased(
    ProtocolFactory factory, std::string host, int port, std::string local_host);
template <class P>
Coro<Connection<P>> create_connection_typed(std::function<std::shared_ptr<P>()> factory, std::string host, int port,
                                            std::string local_host) {
  // A named factory, not a temporary inside the co_await (GCC 12); an empty
  // one stays empty, for create_connection_erased to name.
  ProtocolFactory erased;
  if (factory) erased = [factory] { return std::shared_ptr<BaseProtocol>(factory()); };
  auto [transport, protocol] =
      co_await create_connection_erased(std::move(erased), std::move(host), port, std::move(local_host));
  co_return Connection<P>{std::move(transport), std::static_pointer_cast<P>(protocol)};
}
}  // namespace detail

// loop.create_connection(protocol_factory, host, port): connects on the
// running loop; returns once connection_made has run, as asyncio. The
// factory returns a std::shared_ptr to a Protocol or BufferedProtocol.
template <class F>
auto create_connection(F factory, std::string host, int port, std::string local_host = {}) {
  using P = typename std::invoke_result_t<F&>::element_type;
  return detail::create_connection_typed<P>(std::function<std::shared_ptr<P>()>(std::move(factory)), std::move(host),
                                            port, std::move(local_host));
}

// loop.create_server(protocol_factory, host, port): listens on host:port
// (0: any free port); each accepted connection gets a new protocol.
Coro<ProtocolServer> create_server(ProtocolFactory factory, std::string host, int port, int backlog = 100);

}  // namespace simloop
