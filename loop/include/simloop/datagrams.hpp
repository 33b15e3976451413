// Datagram endpoints: asyncio's loop.create_datagram_endpoint and CPython
// 3.13's selector_events._SelectorDatagramTransport, over a SocketLayer's
// datagram calls. They run on the real loop (UDP over IPv4) and on the fake
// network (fakes::FakeSelector, whose datagrams are delayed, reordered, lost
// and duplicated as seeded choices) alike.
//
// Contract:
//  - create_datagram_endpoint(factory, local, remote) binds a datagram
//    socket to `local` (nullopt: any address, an ephemeral port), connects
//    it to `remote` when given, builds the protocol and the transport, and
//    returns once connection_made has run, as asyncio: the transport
//    schedules connection_made, then its reader, then the creator's waiter,
//    each with call_soon. If the creator is cancelled while waiting the
//    transport is closed.
//  - datagram_received(data, from) is called once per datagram, from the
//    reader; error_received(exc) when the socket reports an error
//    (ConnectionRefusedError after a send to a closed port, on a connected
//    endpoint); the transport stays open after either.
//  - sendto(data, to) sends at once when nothing is buffered; when the socket
//    says EAGAIN the datagram is buffered (with its 8 header bytes counted in
//    get_write_buffer_size()) and sent when the socket turns writable. Above
//    the high-water mark (64 KiB) pause_writing() is called, at or below the
//    low-water mark (16 KiB) resume_writing(), as for streams. A send error
//    goes to error_received and drops that datagram.
//  - On a connected endpoint `to` must be nullopt or the remote address
//    (else InvalidArgumentError); on an unconnected one it is required.
//  - close() stops reading and, once the buffer is sent, schedules
//    connection_lost(null); abort() drops the buffer and schedules it at
//    once. connection_lost runs once; the socket closes after it.
//  - get_extra_info("sockname") and ("peername", connected endpoints only)
//    give "host:port".
//
// Where simloop differs from CPython 3.13.0: it subtracts a sent buffered
// datagram's header bytes too (CPython adds 8 per buffered datagram and
// subtracts only the data, so its count creeps up); a missing or
// out-of-range address in sendto raises InvalidArgumentError at the call
// (CPython fails inside the socket call and closes the transport).
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <simloop/coro.hpp>
#include <simloop/protocols.hpp>
#include <simloop/sockets.hpp>

namespace simloop {

// The transport of create_datagram_endpoint (asyncio's
// _SelectorDatagramTransport). Reach it with std::static_pointer_cast from
// the endpoint's DatagramTransport for the buffer limits.
class SocketDatagramTransport final : public DatagramTransport,
                                      public std::enable_shared_from_this<SocketDatagramTransport> {
 public:
  // Takes ownership of `fd` (a bound, possibly connected datagram socket);
  // `peer` is the remote address it is connected to, if any. Call start().
  SocketDatagramTransport(EventLoop& loop, SocketLayer& sock, int fd, std::shared_ptr<DatagramProtocol> protocol,
                          std::optional<Address> peer);
  ~SocketDatagramTransport() override;
  SocketDatagramTransport(const SocketDatagramTransport&) = delete;
  SocketDatagramTransport& operator=(const SocketDatagramTransport&) = delete;

  // Schedules connection_made and the reader (call_soon each), as the
  // constructor of asyncio's transport does.
  void start();

  std::optional<std::string> get_extra_info(std::string_view name) const override;
  bool is_closing() const override { return closing_; }
  void close() override;
  EventLoop& get_loop() const override { return *loop_; }
  void sendto(std::string_view data, std::optional<Address> to = std::nullopt) override;
  void abort() override;
  std::size_t get_write_buffer_size() const override { return buffer_size_; }
  // {low, high}, as asyncio returns them.
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const { return {low_water_, high_water_}; }
  // high only gives low = high / 4, low only gives high = 4 * low; raises
  // InvalidArgumentError when high < low.
  void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                               std::optional<std::size_t> low = std::nullopt);

 private:
  struct Pending {
    std::string data;
    std::optional<Address> to;
  };
  void read_ready();
  void sendto_ready();
  std::ptrdiff_t send_one(const std::string& data, const std::optional<Address>& to);
  void force_close(std::exception_ptr exc);
  void call_connection_lost(std::exception_ptr exc);
  void maybe_pause_protocol();
  void maybe_resume_protocol();

  EventLoop* loop_;
  SocketLayer* sock_;
  int fd_;
  bool fd_closed_ = false;
  std::shared_ptr<DatagramProtocol> protocol_;
  std::optional<Address> peer_;
  std::string sockname_;
  std::string peername_;
  std::deque<Pending> buffer_;
  std::size_t buffer_size_ = 0;
  std::size_t high_water_;
  std::size_t low_water_;
  bool closing_ = false;
  int conn_lost_ = 0;
  bool protocol_paused_ = false;
  std::vector<char> read_buffer_;
};

using DatagramProtocolFactory = std::function<std::shared_ptr<DatagramProtocol>()>;

// What create_datagram_endpoint returns (asyncio's (transport, protocol)).
template <class P>
struct DatagramEndpoint {
  std::shared_ptr<DatagramTransport> transport;
  std::shared_ptr<P> protocol;
};

namespace detail {
Coro<std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<DatagramProtocol>>> create_datagram_endpoint_erased(
    DatagramProtocolFactory factory, std::optional<Address> local, std::optional<Address> remote);
template <class P>
Coro<DatagramEndpoint<P>> create_datagram_endpoint_typed(std::function<std::shared_ptr<P>()> factory,
                                                         std::optional<Address> local, std::optional<Address> remote) {
  if (!factory) throw Error("create_datagram_endpoint: the protocol factory is empty");
  // A named factory, not a temporary inside the co_await (GCC 12).
  DatagramProtocolFactory erased = [factory] { return std::shared_ptr<DatagramProtocol>(factory()); };
  auto [transport, protocol] =
      co_await create_datagram_endpoint_erased(std::move(erased), std::move(local), std::move(remote));
  co_return DatagramEndpoint<P>{std::move(transport), std::static_pointer_cast<P>(protocol)};
}
}  // namespace detail

// loop.create_datagram_endpoint(protocol_factory, local_addr, remote_addr)
// on the running loop. The factory returns a std::shared_ptr to a
// DatagramProtocol. At least one address is needed; a local port 0 (or no
// local address) binds an ephemeral port. Raises InvalidArgumentError for a
// port out of range or no address at all, Error for an empty factory or a
// socket layer without datagrams, and OSError (say EADDRINUSE) when the
// socket calls fail.
template <class F>
auto create_datagram_endpoint(F factory, std::optional<Address> local, std::optional<Address> remote = std::nullopt) {
  using P = typename std::invoke_result_t<F&>::element_type;
  static_assert(std::is_base_of_v<DatagramProtocol, P>, "the factory must return a std::shared_ptr<DatagramProtocol>");
  return detail::create_datagram_endpoint_typed<P>(std::function<std::shared_ptr<P>()>(std::move(factory)),
                                                   std::move(local), std::move(remote));
}

}  // namespace simloop
