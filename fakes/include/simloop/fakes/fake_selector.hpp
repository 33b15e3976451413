// FakeSelector: the loop's selector under simulation, with simulated pipes,
// stream socket pairs and a small network of named hosts (listeners,
// connections), all on virtual time.
//
// Contract:
//  - Pass it to a SimLoop (SimLoop(scheduler, std::make_unique<FakeSelector>()));
//    the loop attaches it, and from then on it reads the loop's virtual clock
//    and draws every decision from the loop's Scheduler as
//    choose(ChoiceKind::Io, n), 0 being the natural choice: no latency, whole
//    chunks, no fault, readiness in descriptor order. Its descriptors are
//    simulated ids (from 1000 up, never reused), not OS descriptors.
//  - It is also the loop's SocketLayer, so streams (open_connection,
//    start_server, open_stream) and add_reader / add_writer work on it as on
//    the real EpollSelector.
//  - Each write accepts a chunk (a choice: the whole of what fits, or 1..n-1
//    bytes) that arrives after a latency (a choice: 0..latency_steps-1 times
//    latency_unit); a connection's bytes arrive in order, different
//    connections' bytes in any order their latencies give. Each read returns
//    a chunk of what has arrived (a choice). A direction holds at most
//    socket_buffer bytes in flight and unread; beyond, write() says EAGAIN.
//  - select(timeout) delivers what is due, and when nothing is ready jumps
//    the virtual clock to the next delivery (or the timeout, if sooner);
//    readiness is level-triggered, and the order of simultaneously ready
//    callbacks is a choice. quiescent() holds when nothing is in flight,
//    no event is scheduled and no registered callback is ready.
//  - With faults on, each write and each select is a fault opportunity that
//    fires when the choice answers one_in - 1 (about 1 in one_in under a
//    uniform random strategy): a reset (the peer gets part of the data, then
//    ECONNRESET, and so do later calls on both ends), an early EOF (the peer
//    gets part of the data, then end of stream; later writes fail with EPIPE),
//    a write error (the write fails with ECONNRESET and the connection is
//    reset), spurious readiness (an idle registered callback is reported
//    ready; its read or write says EAGAIN).
//  - partition(a, b, mode) cuts traffic between two hosts: Hold keeps it
//    (and connection attempts) until heal(), then delivers it in order; Drop
//    discards it and resets the connections it belonged to (attempts fail
//    with ETIMEDOUT). A partition given heal_after heals by itself.
//  - Datagram sockets (udp_open, sendto, recvfrom) live on hosts too: each
//    datagram arrives after its own latency (the same choice as a stream
//    delivery), so with NetOptions::datagram_reorder a later one may
//    overtake an earlier one; with faults on, each sendto is a fault
//    opportunity that loses the datagram or duplicates it (the copy draws
//    its own latency). A partition holds (Hold) or discards (Drop) the
//    datagrams between its hosts. A datagram for a port nobody has bound is
//    discarded, and a sender connected to that address gets ECONNREFUSED
//    from its next recvfrom or sendto (ICMP port unreachable); a receive
//    queue holds at most socket_buffer bytes, beyond which datagrams are
//    discarded, and a socket with socket_buffer bytes in flight says EAGAIN.
//  - Closing a socket with unread data resets the connection (as TCP does);
//    closing it otherwise sends end of stream.
//  - open_endpoints() lists descriptors still open: unclosed transports, for
//    the end-of-run leak check (fakes::find_leaks).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <simloop/clock.hpp>
#include <simloop/event_loop.hpp>
#include <simloop/scheduler.hpp>
#include <simloop/selector.hpp>
#include <simloop/sockets.hpp>

namespace simloop::fakes {

struct FaultOptions {
  bool enabled = false;
  std::uint64_t one_in = 16;  // a fault opportunity fires when the choice answers one_in - 1
  bool resets = true;
  bool early_eof = true;
  bool write_errors = true;
  bool spurious_readiness = true;
  bool datagram_loss = true;         // a sendto's datagram is never delivered
  bool datagram_duplication = true;  // a sendto's datagram is delivered twice
};

struct NetOptions {
  Duration latency_unit = std::chrono::microseconds(100);
  std::uint64_t latency_steps = 8;  // a delivery takes choose(Io, latency_steps) * latency_unit; 1: none
  bool chunking = true;             // partial writes and reads
  bool reorder_readiness = true;    // the order of simultaneously ready callbacks is a choice
  std::size_t socket_buffer = 64 * 1024;
  // Each datagram's latency is its own: false keeps a socket's datagrams in
  // the order they were sent (each arrives no earlier than the one before).
  bool datagram_reorder = true;
  std::string default_host = "client";  // where connections come from when no local host is given
  FaultOptions faults;
};

enum class PartitionMode { Hold, Drop };

// What the fakes injected, for tests and reports.
struct NetStats {
  std::uint64_t writes = 0;
  std::uint64_t partial_writes = 0;
  std::uint64_t reads = 0;
  std::uint64_t partial_reads = 0;
  std::uint64_t delayed = 0;  // deliveries with a non-zero latency
  std::uint64_t resets = 0;
  std::uint64_t early_eofs = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t spurious = 0;
  std::uint64_t reorders = 0;  // selects whose ready order was not the natural one
  std::uint64_t datagrams_sent = 0;
  std::uint64_t datagrams_lost = 0;        // the loss fault
  std::uint64_t datagrams_duplicated = 0;  // the duplication fault
  std::uint64_t datagrams_dropped = 0;     // partitions (Drop), no receiver, full receive queue
  std::uint64_t datagrams_reordered = 0;   // arrived before a datagram sent earlier on the same socket
};

class FakeSelector final : public Selector, public SocketLayer {
 public:
  explicit FakeSelector(NetOptions options = {});
  ~FakeSelector() override;
  FakeSelector(const FakeSelector&) = delete;
  FakeSelector& operator=(const FakeSelector&) = delete;

  // The FakeSelector of `loop`; raises simloop::Error if its selector is another.
  static FakeSelector& of(EventLoop& loop);

  // ---- Selector ------------------------------------------------------------
  void attach(EventLoop& loop) override;
  void select(std::optional<Duration> timeout, std::vector<HandleRef>& ready) override;
  bool quiescent() const override;
  void add_reader(int fd, HandleRef callback) override;
  bool remove_reader(int fd) override;
  void add_writer(int fd, HandleRef callback) override;
  bool remove_writer(int fd) override;

  // ---- SocketLayer ---------------------------------------------------------
  int connect(const std::string& host, int port, const std::string& local_host) override;
  int connect_result(int fd) override;
  int listen(const std::string& host, int port, int backlog) override;
  int local_port(int fd) override;
  int accept(int listener) override;
  std::ptrdiff_t read(int fd, char* buffer, std::size_t size) override;
  std::ptrdiff_t write(int fd, const char* data, std::size_t size) override;
  int shutdown_write(int fd) override;
  void close(int fd) override;
  std::pair<int, int> socketpair() override;
  std::pair<int, int> pipe() override;
  std::string peer_name(int fd) override;
  std::string local_name(int fd) override;
  int udp_open(const std::string& host, int port) override;
  int udp_connect(int fd, const std::string& host, int port) override;
  std::ptrdiff_t sendto(int fd, const char* data, std::size_t size, const std::string& host, int port) override;
  std::ptrdiff_t recvfrom(int fd, char* buffer, std::size_t size, Address* from) override;

  // ---- the network -----------------------------------------------------------
  void partition(const std::string& a, const std::string& b, PartitionMode mode,
                 std::optional<Duration> heal_after = std::nullopt);
  void heal(const std::string& a, const std::string& b);
  bool partitioned(const std::string& a, const std::string& b) const;

  // ---- timed events (the FakeExecutor's completions) ---------------------------
  // fn runs inside select(), on the loop thread, once virtual time reaches
  // `when`; events due at the same time run in scheduling order. Returns an
  // id for cancel_event.
  std::uint64_t schedule(Duration when, std::function<void()> fn);
  bool cancel_event(std::uint64_t id);

  // ---- inspection --------------------------------------------------------------
  // "fd 1003: stream client:40001 -> 127.0.0.1:8080", one per open descriptor.
  std::vector<std::string> open_endpoints() const;
  const NetStats& stats() const noexcept { return stats_; }
  NetOptions& options() noexcept { return options_; }
  EventLoop* loop() const noexcept { return loop_; }

 private:
  struct Segment {
    enum class Kind : std::uint8_t { Data, Eof, Reset } kind = Kind::Data;
    std::string bytes;
  };
  // One direction of a connection or a pipe.
  struct Channel {
    std::string from, to;  // hosts
    std::deque<Segment> held;
    std::size_t queued = 0;  // bytes sent and not yet arrived (in flight or held)
    std::string buffer;      // arrived, not read
    bool eof = false;        // end of stream arrived
    int error = 0;           // a reset arrived
    bool reader_closed = false;
    bool writer_done = false;  // end of stream or reset sent: nothing more may be written
    Duration last_arrival{0};
    std::weak_ptr<Channel> reverse;  // the other direction of a connection
  };
  enum class Kind : std::uint8_t { Stream, PipeRead, PipeWrite, Listener, Datagram };
  // A datagram on its way.
  struct Datagram {
    int src_fd = 0;
    std::string from_host;
    int from_port = 0;
    std::string to_host;
    int to_port = 0;
    std::string bytes;
    std::uint64_t seq = 0;  // its sender's count, to see reordering
  };
  struct Endpoint {
    Kind kind = Kind::Stream;
    std::string host;
    int port = 0;
    std::string remote_host;
    int remote_port = 0;
    int status = 0;       // streams: 0 connected, -EINPROGRESS, or -errno
    int local_error = 0;  // sticky: later writes fail with -local_error
    std::shared_ptr<Channel> in, out;
    std::deque<int> backlog;  // listeners: accepted, not yet taken
    int max_backlog = 0;
    // datagram sockets
    std::string bound_host;  // the key of udp_bound_ ("0.0.0.0": any host)
    bool connected = false;  // remote_host:remote_port is the peer
    int dgram_error = 0;     // pending, reported once
    std::deque<Datagram> inbox;
    std::size_t inbox_bytes = 0;
    std::size_t in_flight = 0;  // bytes sent, not yet arrived
    Duration last_dgram_arrival{0};
    std::uint64_t sent_seq = 0;
    std::uint64_t max_arrived_seq = 0;
  };
  struct Partition {
    PartitionMode mode;
    std::uint64_t heal_event = 0;
  };

  Duration now() const;
  std::uint64_t choose(std::uint64_t n);
  bool fault_fires();
  Duration latency();
  Endpoint* find(int fd);
  const Endpoint* find(int fd) const;
  bool readable(const Endpoint& e) const;
  bool writable(const Endpoint& e) const;
  std::size_t space(const Channel& ch) const;
  void send(const std::shared_ptr<Channel>& ch, Segment seg);
  void arrive(const std::shared_ptr<Channel>& ch, Segment seg);
  void deliver(Channel& ch, Segment seg);
  void reset_connection(Endpoint& e);
  void arrive_datagram(Datagram d);
  void land_datagram(Datagram d);
  void complete_connect(int fd);
  std::size_t run_due_events();  // returns how many ran
  void collect_ready(std::vector<HandleRef>& ready);
  static std::pair<std::string, std::string> host_pair(const std::string& a, const std::string& b);
  std::string normalize(const std::string& host) const;

  NetOptions options_;
  EventLoop* loop_ = nullptr;
  Clock* clock_ = nullptr;
  Scheduler* scheduler_ = nullptr;
  int next_fd_ = 1000;
  std::uint64_t next_event_ = 1;
  std::map<int, Endpoint> endpoints_;
  std::map<int, HandleRef> readers_;
  std::map<int, HandleRef> writers_;
  std::map<std::pair<Duration, std::uint64_t>, std::function<void()>> events_;
  std::map<std::uint64_t, Duration> event_times_;  // id -> when, for cancel_event
  std::map<std::pair<std::string, int>, int> listeners_;
  std::map<std::string, int> next_port_;
  std::map<std::pair<std::string, std::string>, Partition> partitions_;
  std::vector<std::shared_ptr<Channel>> held_channels_;
  std::vector<int> held_connects_;
  std::map<std::pair<std::string, int>, int> udp_bound_;
  std::vector<Datagram> held_datagrams_;
  NetStats stats_;
  bool dying_ = false;
};

}  // namespace simloop::fakes
