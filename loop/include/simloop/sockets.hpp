// SocketLayer: the non-blocking socket calls the stream layer is built on,
// implemented by real sockets (EpollSelector) and by simulated endpoints
// (fakes::FakeSelector) alike.
//
// Contract:
//  - Every call is non-blocking and returns a value >= 0 on success or a
//    negated errno: -EAGAIN means "not now, wait for readiness"
//    (add_reader / add_writer on the loop), anything else is an error.
//  - A selector that can carry sockets implements SocketLayer too;
//    sockets_of(loop) finds it (or raises Error naming what to do).
//  - connect() starts a connection and returns its fd at once; the fd turns
//    writable when connect_result() has the outcome (0, or -ECONNREFUSED,
//    -ETIMEDOUT, ...; -EINPROGRESS while pending).
//  - read() returning 0 means end of stream; write() may accept fewer bytes
//    than given (a partial write).
//  - close() may be called during the selector's own destruction (it must
//    then do nothing that needs the selector's registrations).
//  - Datagram sockets (udp_open ... recvfrom) carry whole datagrams: a
//    sendto() sends all of one or none (-EAGAIN: the send buffer is full,
//    wait for writability), a recvfrom() returns one (truncated to the
//    buffer). A connected datagram socket reports an error the network gave
//    back (-ECONNREFUSED: nobody listens on the peer's port) from its next
//    recvfrom() or sendto(), once. The defaults return -EOPNOTSUPP, for
//    socket layers without datagrams.
#pragma once

#include <cerrno>
#include <cstddef>
#include <string>
#include <utility>

namespace simloop {

class EventLoop;
struct Address;

class SocketLayer {
 public:
  virtual ~SocketLayer() = default;

  // Starts a stream connection to host:port from `local_host` (empty: any).
  virtual int connect(const std::string& host, int port, const std::string& local_host) = 0;
  virtual int connect_result(int fd) = 0;
  // A listening stream socket on host:port (port 0: an ephemeral port).
  virtual int listen(const std::string& host, int port, int backlog) = 0;
  // The port a socket is bound to, or -errno.
  virtual int local_port(int fd) = 0;
  // A pending connection of a listener, or -EAGAIN.
  virtual int accept(int listener) = 0;
  virtual std::ptrdiff_t read(int fd, char* buffer, std::size_t size) = 0;
  virtual std::ptrdiff_t write(int fd, const char* data, std::size_t size) = 0;
  // Sends end-of-stream (the peer reads 0 once the data before it is read).
  virtual int shutdown_write(int fd) = 0;
  virtual void close(int fd) = 0;
  // A connected pair of stream sockets, or {-errno, -errno}.
  virtual std::pair<int, int> socketpair() = 0;
  // A one-way pipe {read end, write end}, or {-errno, -errno}.
  virtual std::pair<int, int> pipe() = 0;
  // "host:port" of the peer, for messages and get_extra_info.
  virtual std::string peer_name(int fd) = 0;
  // "host:port" of the socket itself (get_extra_info("sockname")); empty
  // when unknown.
  virtual std::string local_name(int fd) {
    (void)fd;
    return {};
  }

  // ---- datagrams ---------------------------------------------------------
  // A datagram socket bound to host:port (empty host: any address; port 0:
  // an ephemeral port), or -errno.
  virtual int udp_open(const std::string& host, int port) {
    (void)host;
    (void)port;
    return -EOPNOTSUPP;
  }
  // Fixes the peer of datagram socket fd: an empty-host sendto() goes there
  // and only its datagrams are received. 0 or -errno.
  virtual int udp_connect(int fd, const std::string& host, int port) {
    (void)fd;
    (void)host;
    (void)port;
    return -EOPNOTSUPP;
  }
  // Sends one datagram to host:port (empty host: the connected peer):
  // size, -EAGAIN, or -errno (-EMSGSIZE, -EDESTADDRREQ, -ECONNREFUSED, ...).
  virtual std::ptrdiff_t sendto(int fd, const char* data, std::size_t size, const std::string& host, int port) {
    (void)fd;
    (void)data;
    (void)size;
    (void)host;
    (void)port;
    return -EOPNOTSUPP;
  }
  // Receives one datagram into buffer (truncated to size) and its sender
  // into *from (when not null): its length, -EAGAIN when none is queued, or
  // -errno (a pending error such as -ECONNREFUSED).
  virtual std::ptrdiff_t recvfrom(int fd, char* buffer, std::size_t size, Address* from) {
    (void)fd;
    (void)buffer;
    (void)size;
    (void)from;
    return -EOPNOTSUPP;
  }
};

// The socket layer of `loop`'s selector; raises simloop::Error when the
// selector has none (a SimLoop without a FakeSelector, say).
SocketLayer& sockets_of(EventLoop& loop);

}  // namespace simloop
