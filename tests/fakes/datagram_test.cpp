// Datagram endpoints (create_datagram_endpoint) on the fake network, where
// delay, reordering, loss, duplication and partitions are seeded choices,
// and the same program on the real loop over 127.0.0.1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "programs.hpp"
#include "support/raises.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::Address;
using simloop::Coro;
using simloop::DatagramProtocol;
using simloop::Duration;
using simloop::fakes::FakeSelector;
using simloop::fakes::make_sim_loop;
using simloop::fakes::PartitionMode;
using simloop::fakes::SimIoOptions;
using simloop::testing::raises;

// Records what it is told; replies go to a queue (nullopt: an error).
struct Recorder final : DatagramProtocol {
  simloop::DatagramTransport* transport = nullptr;
  bool echo = false;  // answer each datagram with "pong:" + it, to its sender
  std::vector<std::string> got;
  std::vector<Duration> at;
  std::vector<std::exception_ptr> errors;
  int made = 0;
  int lost = 0;
  int paused = 0;
  int resumed = 0;
  simloop::Queue<std::optional<std::string>> inbox;
  simloop::Future<void> closed = simloop::Future<void>::create(*simloop::EventLoop::running());

  void connection_made(simloop::BaseTransport& t) override {
    ++made;
    transport = static_cast<simloop::DatagramTransport*>(&t);
  }
  void datagram_received(std::string_view data, const Address& from) override {
    got.emplace_back(data);
    at.push_back(simloop::EventLoop::running()->time());
    if (echo) transport->sendto("pong:" + std::string(data), from);
    inbox.put_nowait(std::string(data));
  }
  void error_received(std::exception_ptr exc) override {
    errors.push_back(exc);
    inbox.put_nowait(std::nullopt);
  }
  void pause_writing() override { ++paused; }
  void resume_writing() override { ++resumed; }
  void connection_lost(std::exception_ptr exc) override {
    ++lost;
    if (exc) errors.push_back(exc);
    closed.set_result();
  }
};

std::shared_ptr<Recorder> recorder() { return std::make_shared<Recorder>(); }
std::shared_ptr<Recorder> echoer() {
  auto r = std::make_shared<Recorder>();
  r->echo = true;
  return r;
}

int port_of(const simloop::DatagramTransport& t) {
  const std::string name = t.get_extra_info("sockname").value_or(":-1");
  return std::stoi(name.substr(name.rfind(':') + 1));
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(fmt::format("{}{}", prefix, i));
  return v;
}

// ---- the same program on both loops -------------------------------------------------

// A client connected to an echo server: n pings, one at a time.
Coro<std::vector<std::string>> ping_pong(int n) {
  const std::optional<Address> local = Address{"127.0.0.1", 0};
  auto [server_t, server_p] = co_await simloop::create_datagram_endpoint(echoer, local);
  const std::optional<Address> remote = Address{"127.0.0.1", port_of(*server_t)};
  auto [client_t, client_p] = co_await simloop::create_datagram_endpoint(recorder, std::nullopt, remote);
  EXPECT_EQ(client_t->get_extra_info("peername"), fmt::format("127.0.0.1:{}", remote->port));
  EXPECT_EQ(server_t->get_extra_info("peername"), std::nullopt);
  std::vector<std::string> replies;
  for (int i = 0; i < n; ++i) {
    client_t->sendto(fmt::format("ping{}", i));
    std::optional<std::string> reply = co_await client_p->inbox.get();
    replies.push_back(reply.value_or("error"));
  }
  EXPECT_EQ(server_p->got, numbered("ping", n));
  client_t->close();
  server_t->close();
  EXPECT_TRUE(client_t->is_closing());
  co_await client_p->closed;
  co_await server_p->closed;
  EXPECT_EQ(client_p->made, 1);
  EXPECT_EQ(client_p->lost, 1);
  EXPECT_EQ(server_p->lost, 1);
  co_return replies;
}

TEST(Datagrams, PingPongOnFakeNetworkUnderFifo) {
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(ping_pong(5)), numbered("pong:ping", 5));
  EXPECT_EQ(loop->time(), Duration{0});
  EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{});
}

TEST(Datagrams, PingPongOnFakeNetworkUnderManySchedules) {
  std::uint64_t delayed = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    auto loop = make_sim_loop(simloop::sim::make_strategy(simloop::sim::Strategy::Random, seed, {}));
    EXPECT_EQ(loop->run_until_complete(ping_pong(5)), numbered("pong:ping", 5)) << "seed " << seed;
    EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{}) << "seed " << seed;
    delayed += FakeSelector::of(*loop).stats().delayed;
  }
  EXPECT_GT(delayed, 0u);
}

TEST(Datagrams, PingPongOnRealLoop) { EXPECT_EQ(programs::run_real(ping_pong(5)), numbered("pong:ping", 5)); }

// ---- faults as seeded choices --------------------------------------------------------

// Host "a" sends n datagrams to host "b" without waiting; what "b" received:
// all that the network decided to deliver (n - lost + duplicated), or, with
// `dropping`, what came within 50 ms.
Coro<std::vector<std::string>> blast(int n, std::vector<Duration>* arrivals = nullptr, bool dropping = false) {
  const std::optional<Address> b = Address{"b", 9000};
  auto [rt, rp] = co_await simloop::create_datagram_endpoint(recorder, b);
  const std::optional<Address> a = Address{"a", 0};
  auto [st, sp] = co_await simloop::create_datagram_endpoint(recorder, a);
  for (const std::string& d : numbered("d", n)) st->sendto(d, Address{"b", 9000});
  if (dropping) {
    co_await simloop::sleep(50ms);
  } else {
    // Loss and duplication are decided at sendto.
    const auto& s = FakeSelector::of(*simloop::EventLoop::running()).stats();
    const std::size_t expected = static_cast<std::size_t>(n) - s.datagrams_lost + s.datagrams_duplicated;
    while (rp->got.size() < expected) co_await rp->inbox.get();
  }
  st->close();
  rt->close();
  co_await sp->closed;
  co_await rp->closed;
  if (arrivals != nullptr) *arrivals = rp->at;
  co_return rp->got;
}

std::unique_ptr<simloop::sim::SimLoop> random_loop(std::uint64_t seed, SimIoOptions io = {}) {
  return make_sim_loop(simloop::sim::make_strategy(simloop::sim::Strategy::Random, seed, {}), io);
}

TEST(Datagrams, FifoDeliversEachOnceInOrderWithoutDelay) {
  auto loop = make_sim_loop();
  std::vector<Duration> arrivals;
  EXPECT_EQ(loop->run_until_complete(blast(20, &arrivals)), numbered("d", 20));
  for (Duration t : arrivals) EXPECT_EQ(t, Duration{0});
  const auto& s = FakeSelector::of(*loop).stats();
  EXPECT_EQ(s.datagrams_sent, 20u);
  EXPECT_EQ(s.delayed, 0u);
  EXPECT_EQ(s.datagrams_lost + s.datagrams_duplicated + s.datagrams_dropped + s.datagrams_reordered, 0u);
}

TEST(Datagrams, DelayAndReorderingAreSeededChoices) {
  std::uint64_t delayed = 0;
  int reordered_runs = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto loop = random_loop(seed);
    std::vector<Duration> arrivals;
    std::vector<std::string> got = loop->run_until_complete(blast(20, &arrivals));
    const auto& s = FakeSelector::of(*loop).stats();
    std::vector<std::string> sorted = got;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::string> expected = numbered("d", 20);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(sorted, expected) << "seed " << seed << ": without faults each arrives exactly once";
    if (got != numbered("d", 20)) {
      ++reordered_runs;
      EXPECT_GT(s.datagrams_reordered, 0u) << "seed " << seed;
    }
    delayed += s.delayed;
    // The same seed gives the same run.
    auto again = random_loop(seed);
    EXPECT_EQ(again->run_until_complete(blast(20)), got) << "seed " << seed;
  }
  EXPECT_GT(delayed, 0u);
  EXPECT_GT(reordered_runs, 0);
}

TEST(Datagrams, WithoutReorderingASocketsDatagramsStayInOrder) {
  SimIoOptions io;
  io.net.datagram_reorder = false;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto loop = random_loop(seed, io);
    EXPECT_EQ(loop->run_until_complete(blast(20)), numbered("d", 20)) << "seed " << seed;
    EXPECT_EQ(FakeSelector::of(*loop).stats().datagrams_reordered, 0u);
  }
}

TEST(Datagrams, LossAndDuplicationAreFaultChoices) {
  SimIoOptions io;
  io.net.faults.enabled = true;
  io.net.faults.one_in = 4;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto loop = random_loop(seed, io);
    std::vector<std::string> got = loop->run_until_complete(blast(20));
    const auto& s = FakeSelector::of(*loop).stats();
    EXPECT_EQ(got.size(), 20u - s.datagrams_lost + s.datagrams_duplicated) << "seed " << seed;
    std::map<std::string, int> count;
    for (const std::string& d : got) ++count[d];
    int twice = 0;
    for (const auto& [d, c] : count) {
      EXPECT_LE(c, 2) << d;
      if (c == 2) ++twice;
    }
    EXPECT_EQ(static_cast<std::uint64_t>(twice), s.datagrams_duplicated) << "seed " << seed;
    lost += s.datagrams_lost;
    duplicated += s.datagrams_duplicated;
  }
  EXPECT_GT(lost, 0u);
  EXPECT_GT(duplicated, 0u);

  // Faults off (the default): never.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto loop = random_loop(seed);
    EXPECT_EQ(loop->run_until_complete(blast(20)).size(), 20u);
    EXPECT_EQ(FakeSelector::of(*loop).stats().datagrams_lost, 0u);
  }
}

TEST(Datagrams, DropPartitionDiscardsDatagrams) {
  auto loop = make_sim_loop();
  FakeSelector::of(*loop).partition("a", "b", PartitionMode::Drop);
  EXPECT_EQ(loop->run_until_complete(blast(10, nullptr, true)), std::vector<std::string>{});
  EXPECT_EQ(FakeSelector::of(*loop).stats().datagrams_dropped, 10u);
}

TEST(Datagrams, HoldPartitionDeliversInOrderWhenHealed) {
  auto loop = make_sim_loop();
  FakeSelector::of(*loop).partition("a", "b", PartitionMode::Hold, 10ms);
  std::vector<Duration> arrivals;
  EXPECT_EQ(loop->run_until_complete(blast(10, &arrivals)), numbered("d", 10));
  for (Duration t : arrivals) EXPECT_EQ(t, Duration{10ms});
}

// ---- errors ----------------------------------------------------------------------------

// A connected endpoint sends to a port nobody has bound any more.
Coro<std::string> refused_program() {
  const std::optional<Address> any = Address{"127.0.0.1", 0};
  auto [gone_t, gone_p] = co_await simloop::create_datagram_endpoint(recorder, any);
  const int port = port_of(*gone_t);
  gone_t->close();
  co_await gone_p->closed;
  const std::optional<Address> remote = Address{"127.0.0.1", port};
  auto [t, p] = co_await simloop::create_datagram_endpoint(recorder, std::nullopt, remote);
  std::string what = "no error";
  // Real ICMP errors come after a send: retry a few times (never needed on loopback, in practice).
  for (int i = 0; i < 5 && p->errors.empty(); ++i) {
    t->sendto("anyone?");
    auto timed_out = co_await raises<simloop::TimeoutError>(simloop::wait_for(p->inbox.get(), 1s));
    (void)timed_out;
  }
  if (!p->errors.empty()) {
    try {
      std::rethrow_exception(p->errors.front());
    } catch (const simloop::ConnectionRefusedError& e) {
      what = fmt::format("refused code={} open={}", e.code(), !t->is_closing());
    } catch (const std::exception& e) {
      what = e.what();
    }
  }
  t->close();
  co_await p->closed;
  co_return what;
}

TEST(Datagrams, ConnectionRefusedOnRealLoopGoesToErrorReceived) {
  EXPECT_EQ(programs::run_real(refused_program()), fmt::format("refused code={} open=true", ECONNREFUSED));
}

TEST(Datagrams, ConnectionRefusedOnFakeNetworkGoesToErrorReceived) {
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(refused_program()), fmt::format("refused code={} open=true", ECONNREFUSED));
  EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{});
}

template <class E>
std::string message_of(const std::optional<E>& e) {
  return e ? std::string(e->what()) : std::string("nothing raised");
}

Coro<int> bad_input() {
  const std::optional<Address> huge = Address{"127.0.0.1", 70000};
  auto e1 = co_await raises<simloop::InvalidArgumentError>(simloop::create_datagram_endpoint(recorder, huge));
  EXPECT_NE(message_of(e1).find("local port 70000 is out of range"), std::string::npos) << message_of(e1);
  const std::optional<Address> zero = Address{"127.0.0.1", 0};
  auto e2 =
      co_await raises<simloop::InvalidArgumentError>(simloop::create_datagram_endpoint(recorder, std::nullopt, zero));
  EXPECT_NE(message_of(e2).find("remote port 0 is out of range"), std::string::npos) << message_of(e2);
  auto e3 = co_await raises<simloop::InvalidArgumentError>(
      simloop::create_datagram_endpoint(recorder, std::nullopt, std::nullopt));
  EXPECT_NE(message_of(e3).find("give a local address, a remote address or both"), std::string::npos);
  std::function<std::shared_ptr<Recorder>()> empty;
  auto e4 = co_await raises<simloop::Error>(simloop::create_datagram_endpoint(empty, zero));
  EXPECT_NE(message_of(e4).find("the protocol factory is empty"), std::string::npos) << message_of(e4);

  auto [server_t, server_p] = co_await simloop::create_datagram_endpoint(recorder, zero);
  const std::optional<Address> remote = Address{"127.0.0.1", port_of(*server_t)};
  auto [t, p] = co_await simloop::create_datagram_endpoint(recorder, std::nullopt, remote);
  auto e5 = simloop::testing::raises_sync<simloop::InvalidArgumentError>([&] {
    t->sendto("x", Address{"127.0.0.1", remote->port + 1});
  });
  EXPECT_NE(message_of(e5).find("must be none or 127.0.0.1:"), std::string::npos) << message_of(e5);
  auto e6 = simloop::testing::raises_sync<simloop::InvalidArgumentError>([&] { server_t->sendto("x"); });
  EXPECT_NE(message_of(e6).find("no address given"), std::string::npos) << message_of(e6);
  auto e7 = simloop::testing::raises_sync<simloop::InvalidArgumentError>([&] {
    server_t->sendto("x", Address{"127.0.0.1", 0});
  });
  EXPECT_NE(message_of(e7).find("port is out of range"), std::string::npos) << message_of(e7);
  t->abort();
  server_t->abort();
  co_await p->closed;
  co_await server_p->closed;
  co_return 0;
}

TEST(Datagrams, BadInputNamesWhatWasWrong) {
  auto loop = make_sim_loop();
  loop->run_until_complete(bad_input());
  EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{});
  EXPECT_EQ(programs::run_real(bad_input()), 0);
}

TEST(Datagrams, AddressInUseIsAnOSError) {
  auto loop = make_sim_loop();
  loop->run_until_complete([]() -> Coro<void> {
    const std::optional<Address> fixed = Address{"b", 7};
    auto [t, p] = co_await simloop::create_datagram_endpoint(recorder, fixed);
    auto e = co_await raises<simloop::OSError>(simloop::create_datagram_endpoint(recorder, fixed));
    EXPECT_TRUE(e.has_value());
    EXPECT_EQ(e ? e->code() : 0, EADDRINUSE);
    t->close();
    co_await p->closed;
  }());
}

// ---- flow control ----------------------------------------------------------------------

TEST(Datagrams, SendBufferPausesAndResumesWriting) {
  SimIoOptions io;
  io.net.socket_buffer = 4096;
  auto loop = make_sim_loop(nullptr, io);
  loop->run_until_complete([]() -> Coro<void> {
    const std::optional<Address> b = Address{"b", 9000};
    auto [rt, rp] = co_await simloop::create_datagram_endpoint(recorder, b);
    const std::optional<Address> a = Address{"a", 0};
    auto [st, sp] = co_await simloop::create_datagram_endpoint(recorder, a);
    auto& transport = static_cast<simloop::SocketDatagramTransport&>(*st);
    EXPECT_EQ(transport.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{16 * 1024, 64 * 1024}));
    transport.set_write_buffer_limits(2048);
    const std::string payload(256, 'x');
    for (int i = 0; i < 40; ++i) st->sendto(payload, Address{"b", 9000});
    // 16 datagrams fill the socket's 4096 bytes; the other 24 wait, with
    // their headers.
    EXPECT_EQ(st->get_write_buffer_size(), 24u * (256 + 8));
    EXPECT_EQ(sp->paused, 1);
    co_await simloop::sleep(10ms);
    EXPECT_EQ(st->get_write_buffer_size(), 0u);
    EXPECT_EQ(sp->resumed, 1);
    const auto& s = FakeSelector::of(*simloop::EventLoop::running()).stats();
    EXPECT_EQ(rp->got.size() + s.datagrams_dropped, 40u);  // a full receive queue drops, as UDP does
    st->close();
    rt->close();
    co_await sp->closed;
    co_await rp->closed;
  }());
}

TEST(Datagrams, CloseWaitsForTheBufferAbortDropsIt) {
  SimIoOptions io;
  io.net.socket_buffer = 1024;
  auto loop = make_sim_loop(nullptr, io);
  loop->run_until_complete([]() -> Coro<void> {
    const std::optional<Address> b = Address{"b", 9000};
    auto [rt, rp] = co_await simloop::create_datagram_endpoint(recorder, b);
    const std::optional<Address> a = Address{"a", 0};
    auto [st, sp] = co_await simloop::create_datagram_endpoint(recorder, a);
    for (int i = 0; i < 8; ++i) st->sendto(std::string(512, 'y'), Address{"b", 9000});
    EXPECT_GT(st->get_write_buffer_size(), 0u);
    st->close();
    st->close();  // once is enough
    co_await sp->closed;
    EXPECT_EQ(st->get_write_buffer_size(), 0u);
    EXPECT_EQ(sp->lost, 1);

    auto [s2, p2] = co_await simloop::create_datagram_endpoint(recorder, a);
    for (int i = 0; i < 8; ++i) s2->sendto(std::string(512, 'z'), Address{"b", 9000});
    s2->abort();
    s2->abort();
    EXPECT_EQ(s2->get_write_buffer_size(), 0u);
    co_await p2->closed;
    EXPECT_EQ(p2->lost, 1);
    rt->close();
    co_await rp->closed;
  }());
  EXPECT_EQ(simloop::fakes::find_leaks(*loop), std::vector<std::string>{});
}

}  // namespace
