// The protocol / transport layer (create_connection, create_server and the
// stream Transport, asyncio's selector socket transport) on the fake network,
// under fifo and seeded random schedules (chunking, latency, readiness
// reordering, faults, partitions), and the same programs on the real loop
// over 127.0.0.1.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <simloop/detail/socket_transport.hpp>
#include "programs.hpp"
#include "support/raises.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Duration;
using simloop::EventLoop;
using simloop::Future;
using simloop::Transport;
using simloop::fakes::FakeSelector;
using simloop::fakes::make_sim_loop;
using simloop::fakes::PartitionMode;
using simloop::fakes::SimIoOptions;
using simloop::testing::raises;
using simloop::testing::raises_sync;

// ---- helpers -----------------------------------------------------------------------------

// A Protocol that records what it is told and checks the contract as it goes:
// connection_made first and once, connection_lost last and once, nothing in
// between before or after, pause_writing / resume_writing alternating and
// called exactly at the water marks.
struct Probe final : simloop::Protocol {
  Transport* transport = nullptr;
  std::string received;
  std::vector<std::string> calls;  // "made", "data", "eof", "pause", "resume", "lost"; repeats folded
  std::vector<std::string> violations;
  std::exception_ptr lost_exc;
  int made = 0;
  int lost = 0;
  int paused = 0;
  int resumed = 0;
  bool writing_paused = false;
  std::optional<Duration> first_data_at;
  // Behaviour.
  bool echo = false;               // write back what arrives
  bool keep_open = false;          // eof_received's answer
  bool pause_on_made = false;      // pause_reading() in connection_made
  std::string on_eof_write;        // written (then close()) at EOF, with keep_open
  const char* throw_in = nullptr;  // "data_received" / "eof_received": raise there
  Future<void> closed = Future<void>::create(EventLoop::running_or_throw("Probe"));

  void call(const std::string& what) {
    if (made != 1 && what != "made") violations.push_back(what + " before connection_made");
    if (lost > 0) violations.push_back(what + " after connection_lost");
    if (calls.empty() || calls.back() != what) calls.push_back(what);
  }
  void connection_made(simloop::BaseTransport& t) override {
    if (made > 0) violations.push_back("connection_made twice");
    call("made");
    ++made;
    transport = dynamic_cast<Transport*>(&t);
    if (transport == nullptr) violations.push_back("not a stream transport");
    if (pause_on_made) transport->pause_reading();
  }
  void data_received(std::string_view data) override {
    call("data");
    if (data.empty()) violations.push_back("empty data_received");
    if (transport != nullptr && !transport->is_reading()) violations.push_back("data_received while paused");
    if (!first_data_at) first_data_at = EventLoop::running()->time();
    received.append(data);
    if (throw_in != nullptr && std::string_view(throw_in) == "data_received") {
      throw std::runtime_error("boom in data_received");
    }
    if (echo) transport->write(data);
  }
  bool eof_received() override {
    call("eof");
    if (throw_in != nullptr && std::string_view(throw_in) == "eof_received") {
      throw std::runtime_error("boom in eof_received");
    }
    if (keep_open && !on_eof_write.empty()) {
      transport->write(on_eof_write + received);
      transport->close();
    }
    return keep_open;
  }
  void pause_writing() override {
    call("pause");
    ++paused;
    if (writing_paused) violations.push_back("pause_writing twice in a row");
    writing_paused = true;
    const auto [low, high] = transport->get_write_buffer_limits();
    (void)low;
    if (transport->get_write_buffer_size() <= high) {
      violations.push_back(
          fmt::format("paused at {} bytes, not above high {}", transport->get_write_buffer_size(), high));
    }
  }
  void resume_writing() override {
    call("resume");
    ++resumed;
    if (!writing_paused) violations.push_back("resume_writing without pause_writing");
    writing_paused = false;
    const auto [low, high] = transport->get_write_buffer_limits();
    (void)high;
    if (transport->get_write_buffer_size() > low) {
      violations.push_back(fmt::format("resumed at {} bytes, above low {}", transport->get_write_buffer_size(), low));
    }
  }
  void connection_lost(std::exception_ptr exc) override {
    if (lost > 0) violations.push_back("connection_lost twice");
    if (made != 1) violations.push_back("connection_lost without connection_made");
    if (calls.empty() || calls.back() != "lost") calls.push_back("lost");
    ++lost;
    lost_exc = exc;
    transport = nullptr;  // the transport is gone after this (asyncio drops it too)
    if (!closed.done()) closed.set_result();
  }
};

// The protocols a server created, in accept order.
struct Accepted {
  std::vector<std::shared_ptr<Probe>> probes;
  std::function<void(Probe&)> setup;
};

simloop::ProtocolFactory server_factory(const std::shared_ptr<Accepted>& acc) {
  return [acc] {
    auto p = std::make_shared<Probe>();
    if (acc->setup) acc->setup(*p);
    acc->probes.push_back(p);
    return std::shared_ptr<simloop::BaseProtocol>(p);
  };
}

std::function<std::shared_ptr<Probe>()> client_factory(std::function<void(Probe&)> setup = {}) {
  return [setup] {
    auto p = std::make_shared<Probe>();
    if (setup) setup(*p);
    return p;
  };
}

// Polls cond every millisecond (virtual on the fakes, real on epoll); raises
// if it does not hold within `limit` polls, so a lost wakeup fails instead of hanging.
template <class F>
Coro<void> eventually(F cond, std::string what, int limit = 20000) {
  for (int i = 0; i < limit; ++i) {
    if (cond()) co_return;
    co_await simloop::sleep(1ms);
  }
  throw std::runtime_error("timed out waiting for " + what);
}

// Waits until the server's n-th connection (from 1) is made; returns its protocol.
Coro<std::shared_ptr<Probe>> nth_accepted(std::shared_ptr<Accepted> acc, std::size_t n) {
  auto made = [&] { return acc->probes.size() >= n && acc->probes[n - 1]->made == 1; };
  co_await eventually(made, fmt::format("connection {} accepted", n));
  co_return acc->probes[n - 1];
}

// Deterministic bytes: n of them, varied by `salt`.
std::string pattern(std::size_t n, std::size_t salt) {
  std::string s(n, ' ');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + salt + i / 26) % 26);
  return s;
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return "null";
  try {
    std::rethrow_exception(e);
  } catch (const simloop::ConnectionResetError& x) {
    return fmt::format("ConnectionResetError({})", x.code());
  } catch (const simloop::BrokenPipeError& x) {
    return fmt::format("BrokenPipeError({})", x.code());
  } catch (const simloop::OSError& x) {
    return fmt::format("OSError({})", x.code());
  } catch (const std::exception& x) {
    return x.what();
  }
}

template <class E>
std::string message_of(const std::optional<E>& e) {
  return e ? std::string(e->what()) : std::string("nothing raised");
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::unique_ptr<simloop::sim::SimLoop> random_loop(std::uint64_t seed, SimIoOptions io = {},
                                                   simloop::sim::SimOptions sim = {}) {
  return make_sim_loop(simloop::sim::make_strategy(simloop::sim::Strategy::Random, seed, sim), io);
}

// Runs coro as the loop's main task, which seeded cancellation injection spares
// (as the exploration runner spares a scenario's main task).
template <class T>
T run_main(simloop::sim::SimLoop& loop, Coro<T> coro) {
  simloop::Task<T> main = loop.create_task(std::move(coro), "main");
  simloop::sim::spare(main);
  return loop.run_until_complete(Future<T>(main));
}

void expect_no_leaks(simloop::sim::SimLoop& loop, const std::string& where = {}) {
  EXPECT_EQ(simloop::fakes::find_leaks(loop), std::vector<std::string>{}) << where;
}

// ---- echo on both loops ---------------------------------------------------------------------

std::string message(int client, int m) {
  return fmt::format("client {} message {} {}\n", client, m, pattern(static_cast<std::size_t>(m * 37 % 300), m));
}

// Each client writes its messages (some with writelines), then write_eof; the
// server echoes and closes at EOF; the client closes at the server's EOF.
// One line per connection, describing what each end saw.
Coro<std::vector<std::string>> echo_program(std::string host, int clients, int messages) {
  auto acc = std::make_shared<Accepted>();
  acc->setup = [](Probe& p) { p.echo = true; };
  simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), host, 0);
  EXPECT_TRUE(server.is_serving());
  std::vector<simloop::Connection<Probe>> conns;
  std::vector<std::string> sent(static_cast<std::size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    simloop::Connection<Probe> conn = co_await simloop::create_connection(client_factory(), host, server.port());
    EXPECT_EQ(conn.protocol->made, 1) << "create_connection returns after connection_made";
    EXPECT_EQ(conn.transport->get_extra_info("peername"), fmt::format("{}:{}", host, server.port()));
    EXPECT_EQ(conn.transport->get_extra_info("no such thing"), std::nullopt);
    conns.push_back(conn);
  }
  for (int c = 0; c < clients; ++c) {
    auto& t = *conns[static_cast<std::size_t>(c)].transport;
    std::string& s = sent[static_cast<std::size_t>(c)];
    for (int m = 0; m < messages; m += 2) {
      t.write(message(c, m));
      s += message(c, m);
      if (m + 1 < messages) {
        const std::string a = message(c, m + 1);
        t.writelines({std::string_view(a).substr(0, 5), std::string_view(a).substr(5)});
        s += a;
      }
    }
    EXPECT_TRUE(t.can_write_eof());
    t.write_eof();
  }
  for (auto& conn : conns) co_await conn.protocol->closed;
  for (auto& conn : conns) {
    EXPECT_TRUE(conn.transport->is_closing());
    EXPECT_EQ(conn.transport->get_extra_info("peername"), fmt::format("{}:{}", host, server.port()))
        << "known after the connection is lost, as asyncio's extra info";
    EXPECT_TRUE(conn.transport->get_extra_info("sockname").has_value());
  }
  auto all_lost = [&] {
    if (acc->probes.size() != static_cast<std::size_t>(clients)) return false;
    for (auto& p : acc->probes) {
      if (p->lost == 0) return false;
    }
    return true;
  };
  co_await eventually(all_lost, "the server side's connection_lost");
  EXPECT_EQ(server.active_connections(), 0u);
  server.close();
  co_await server.wait_closed();
  EXPECT_FALSE(server.is_serving());
  std::vector<std::string> lines;
  for (int c = 0; c < clients; ++c) {
    const Probe& p = *conns[static_cast<std::size_t>(c)].protocol;
    lines.push_back(fmt::format("client {}: echoed={} calls={} lost={} exc={} violations={}", c,
                                p.received == sent[static_cast<std::size_t>(c)], joined(p.calls), p.lost,
                                describe(p.lost_exc), joined(p.violations)));
  }
  for (auto& p : acc->probes) {
    // Accepted in any order: find which client it served by what it got.
    int who = -1;
    for (int c = 0; c < clients; ++c) {
      if (p->received == sent[static_cast<std::size_t>(c)]) who = c;
    }
    lines.push_back(fmt::format("server for {}: calls={} lost={} exc={} violations={}", who, joined(p->calls), p->lost,
                                describe(p->lost_exc), joined(p->violations)));
  }
  std::sort(lines.begin(), lines.end());
  co_return lines;
}

std::vector<std::string> expected_echo(int clients) {
  std::vector<std::string> lines;
  for (int c = 0; c < clients; ++c) {
    lines.push_back(fmt::format("client {}: echoed=true calls=made,data,eof,lost lost=1 exc=null violations=", c));
    lines.push_back(fmt::format("server for {}: calls=made,data,eof,lost lost=1 exc=null violations=", c));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(Protocols, EchoOnFakeNetworkUnderFifo) {
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(echo_program("127.0.0.1", 3, 12)), expected_echo(3));
  EXPECT_EQ(loop->time(), Duration{0}) << "fifo: no latency";
  expect_no_leaks(*loop);
}

TEST(Protocols, EchoOnFakeNetworkUnderManySchedules) {
  std::uint64_t partial = 0;
  std::uint64_t delayed = 0;
  std::uint64_t reorders = 0;
  for (std::uint64_t seed = 1; seed <= 32; ++seed) {
    auto loop = random_loop(seed);
    EXPECT_EQ(loop->run_until_complete(echo_program("10.0.0.1", 3, 12)), expected_echo(3)) << "seed " << seed;
    expect_no_leaks(*loop, fmt::format("seed {}", seed));
    const auto& s = FakeSelector::of(*loop).stats();
    partial += s.partial_reads + s.partial_writes;
    delayed += s.delayed;
    reorders += s.reorders;
  }
  // The knobs were on and did something.
  EXPECT_GT(partial, 0u);
  EXPECT_GT(delayed, 0u);
  EXPECT_GT(reorders, 0u);
}

TEST(Protocols, EchoOnRealLoop) { EXPECT_EQ(programs::run_real(echo_program("127.0.0.1", 3, 12)), expected_echo(3)); }

// ---- write buffer limits ---------------------------------------------------------------------

TEST(Protocols, WriteBufferLimits) {
  auto loop = make_sim_loop();
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    using Limits = std::pair<std::size_t, std::size_t>;
    EXPECT_EQ(t->get_write_buffer_limits(), (Limits{16 * 1024, 64 * 1024})) << "asyncio's defaults, {low, high}";
    t->set_write_buffer_limits(1000);
    EXPECT_EQ(t->get_write_buffer_limits(), (Limits{250, 1000})) << "high only: low = high / 4";
    t->set_write_buffer_limits(std::nullopt, 100);
    EXPECT_EQ(t->get_write_buffer_limits(), (Limits{100, 400})) << "low only: high = 4 * low";
    t->set_write_buffer_limits(300, 300);
    EXPECT_EQ(t->get_write_buffer_limits(), (Limits{300, 300}));
    t->set_write_buffer_limits();
    EXPECT_EQ(t->get_write_buffer_limits(), (Limits{16 * 1024, 64 * 1024})) << "neither: the defaults";
    auto bad = raises_sync<simloop::InvalidArgumentError>([&] { t->set_write_buffer_limits(10, 20); });
    EXPECT_TRUE(bad.has_value());
    const std::string what = message_of(bad);
    EXPECT_NE(what.find("high (10)"), std::string::npos) << what;
    EXPECT_NE(what.find("low (20)"), std::string::npos) << what;
    EXPECT_EQ(t->get_write_buffer_limits(), (Limits{16 * 1024, 64 * 1024})) << "a rejected call changes nothing";
    auto bad_low = raises_sync<simloop::InvalidArgumentError>([&] { t->set_write_buffer_limits(std::nullopt, 0); });
    EXPECT_FALSE(bad_low.has_value()) << "low 0 gives high 0: valid";
    EXPECT_EQ(t->get_write_buffer_limits(), (Limits{0, 0}));
    t->set_write_buffer_limits();
    t->close();
    co_await p->closed;
    server.close();
    co_await server.wait_closed();
  }());
}

TEST(Protocols, LoweringTheHighWaterMarkBelowTheBufferPausesAtOnce) {
  SimIoOptions io;
  io.net.socket_buffer = 1024;
  auto loop = make_sim_loop(nullptr, io);
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    acc->setup = [](Probe& p) { p.pause_on_made = true; };
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    t->write(pattern(5000, 1));
    EXPECT_EQ(t->get_write_buffer_size(), 5000u - 1024u) << "the socket took what fits";
    EXPECT_EQ(p->paused, 0) << "below the default 64 KiB";
    t->set_write_buffer_limits(2000);
    EXPECT_EQ(p->paused, 1) << "asyncio's set_write_buffer_limits calls _maybe_pause_protocol";
    t->set_write_buffer_limits(1000);
    EXPECT_EQ(p->paused, 1) << "already paused";
    t->close();
    co_await nth_accepted(acc, 1);
    acc->probes[0]->transport->resume_reading();
    co_await p->closed;
    EXPECT_EQ(p->resumed, 1);
    co_await acc->probes[0]->closed;
    EXPECT_TRUE(acc->probes[0]->received == pattern(5000, 1)) << acc->probes[0]->received.size() << " bytes";
    EXPECT_EQ(joined(p->violations), "");
    server.close();
    co_await server.wait_closed();
  }());
  expect_no_leaks(*loop);
}

// ---- flow control under schedules ------------------------------------------------------------

struct FlowReport {
  int pauses = 0;
  int resumes = 0;
  bool delivered = false;  // every byte, in order
  std::vector<std::string> violations;
};

// The client writes 120 KB in chunks of 1..1499 bytes, waiting while paused;
// the server does not read until the client is first paused. Checks the
// marks at each write: paused exactly when the buffer is above high.
Coro<FlowReport> flow_program() {
  auto acc = std::make_shared<Accepted>();
  acc->setup = [](Probe& p) { p.pause_on_made = true; };
  simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
  auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
  t->set_write_buffer_limits(8192);
  const std::size_t high = 8192;
  FlowReport r;
  std::string expected;
  bool server_resumed = false;
  for (std::size_t i = 0; expected.size() < 120 * 1024; ++i) {
    if (p->writing_paused) {
      if (!server_resumed) {
        co_await nth_accepted(acc, 1);
        Probe& srv = *acc->probes[0];
        // Paused reading: nothing delivered, but the data is kept (checked at the end).
        if (!srv.received.empty()) r.violations.push_back("data_received while paused");
        if (srv.transport->is_reading()) r.violations.push_back("is_reading() while paused");
        co_await simloop::sleep(5ms);
        if (!srv.received.empty()) r.violations.push_back("data_received while paused (5ms on)");
        srv.transport->resume_reading();
        if (!srv.transport->is_reading()) r.violations.push_back("!is_reading() after resume");
        server_resumed = true;
      }
      auto until3 = [&] { return !p->writing_paused; };
      co_await eventually(until3, "resume_writing");
    }
    const std::string chunk = pattern(1 + (i * 613) % 1499, i);
    t->write(chunk);
    expected += chunk;
    const bool above = t->get_write_buffer_size() > high;
    if (above != p->writing_paused) {
      r.violations.push_back(fmt::format("write {}: buffer {} with high {} but paused={}", i,
                                         t->get_write_buffer_size(), high, p->writing_paused));
    }
  }
  auto until4 = [&] { return t->get_write_buffer_size() == 0; };
  co_await eventually(until4, "the buffer to drain");
  if (p->writing_paused) r.violations.push_back("still paused with an empty buffer");
  t->close();
  co_await p->closed;
  co_await nth_accepted(acc, 1);
  co_await acc->probes[0]->closed;
  server.close();
  co_await server.wait_closed();
  r.pauses = p->paused;
  r.resumes = p->resumed;
  r.delivered = acc->probes[0]->received == expected;
  for (const std::string& v : p->violations) r.violations.push_back("client: " + v);
  for (const std::string& v : acc->probes[0]->violations) r.violations.push_back("server: " + v);
  co_return r;
}

TEST(Protocols, FlowControlUnderFifoAndManySchedules) {
  SimIoOptions io;
  io.net.socket_buffer = 2048;
  for (std::uint64_t seed = 0; seed <= 32; ++seed) {
    auto loop = seed == 0 ? make_sim_loop(nullptr, io) : random_loop(seed, io);
    FlowReport r = loop->run_until_complete(flow_program());
    EXPECT_GE(r.pauses, 1) << "seed " << seed << ": the reader paused, so the writer must pause";
    EXPECT_EQ(r.pauses, r.resumes) << "seed " << seed;
    EXPECT_TRUE(r.delivered) << "seed " << seed << ": bytes lost or reordered";
    EXPECT_EQ(joined(r.violations), "") << "seed " << seed;
    expect_no_leaks(*loop, fmt::format("seed {}", seed));
  }
}

// ---- pause_reading / resume_reading ---------------------------------------------------------

TEST(Protocols, PauseReadingKeepsTheData) {
  auto loop = make_sim_loop();
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    co_await nth_accepted(acc, 1);
    Probe& srv = *acc->probes[0];
    EXPECT_TRUE(srv.transport->is_reading());
    srv.transport->pause_reading();
    srv.transport->pause_reading();  // twice: no effect
    EXPECT_FALSE(srv.transport->is_reading());
    t->write("one ");
    co_await simloop::sleep(10ms);
    t->write("two");
    co_await simloop::sleep(10ms);
    EXPECT_EQ(srv.received, "");
    srv.transport->resume_reading();
    srv.transport->resume_reading();
    EXPECT_TRUE(srv.transport->is_reading());
    auto until7 = [&] { return srv.received == "one two"; };
    co_await eventually(until7, "the kept data");
    t->close();
    co_await srv.closed;
    co_await p->closed;
    EXPECT_EQ(joined(srv.violations), "");
    server.close();
    co_await server.wait_closed();
  }());
  expect_no_leaks(*loop);
}

// A paused transport is held by its loop alone (its protocol has a plain
// pointer): alive while the loop is open, freed (its socket closed) when the
// loop closes, even though nobody closed it.
TEST(Protocols, APausedTransportLivesUntilItsLoopCloses) {
  auto loop = make_sim_loop();
  std::weak_ptr<Transport> server_side;
  loop->run_until_complete([&]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    co_await nth_accepted(acc, 1);
    Probe& srv = *acc->probes[0];
    srv.transport->pause_reading();
    server_side = static_cast<simloop::detail::SocketTransport*>(srv.transport)->weak_from_this();
    t->write("unread");
    co_await simloop::sleep(10ms);
    EXPECT_FALSE(server_side.expired()) << "paused and open: the loop holds it";
    server.close();
  }());
  EXPECT_FALSE(server_side.expired());
  EXPECT_FALSE(simloop::fakes::find_leaks(*loop).empty()) << "open transports are leaks to the runner";
  loop->close();
  EXPECT_TRUE(server_side.expired()) << "freed by close(), not leaked";
}

// ---- write_eof and eof_received --------------------------------------------------------------

// The client sends a request and write_eof; the server answers at EOF
// (keep_open) or lets the transport close (not keep_open).
Coro<std::vector<std::string>> half_close_program(bool keep_open) {
  auto acc = std::make_shared<Accepted>();
  acc->setup = [keep_open](Probe& p) {
    p.keep_open = keep_open;
    p.on_eof_write = "reply to ";
  };
  simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "127.0.0.1", 0);
  auto [t, p] = co_await simloop::create_connection(client_factory(), "127.0.0.1", server.port());
  t->write("request");
  t->write_eof();
  t->write_eof();  // again: no effect
  EXPECT_FALSE(t->is_closing()) << "a half-closed transport is open";
  auto late = raises_sync<simloop::Error>([&] { t->write("more"); });
  EXPECT_NE(late ? std::string(late->what()).find("after write_eof()") : std::string::npos, std::string::npos);
  co_await p->closed;
  auto until8 = [&] { return acc->probes.size() == 1 && acc->probes[0]->lost == 1; };
  co_await eventually(until8, "the server's end");
  const Probe& srv = *acc->probes[0];
  server.close();
  co_await server.wait_closed();
  co_return std::vector<std::string>{
      "client got: " + p->received, "client: " + joined(p->calls) + " " + describe(p->lost_exc),
      "server got: " + srv.received, "server: " + joined(srv.calls) + " " + describe(srv.lost_exc),
      "violations: " + joined(p->violations) + joined(srv.violations)};
}

const std::vector<std::string> kHalfClosed = {"client got: reply to request", "client: made,data,eof,lost null",
                                              "server got: request", "server: made,data,eof,lost null", "violations: "};
const std::vector<std::string> kClosedAtEof = {"client got: ", "client: made,eof,lost null", "server got: request",
                                               "server: made,data,eof,lost null", "violations: "};

TEST(Protocols, EofReceivedTrueKeepsTheTransportOpenForWriting) {
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(half_close_program(true)), kHalfClosed);
  expect_no_leaks(*loop);
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    auto r = random_loop(seed);
    EXPECT_EQ(r->run_until_complete(half_close_program(true)), kHalfClosed) << "seed " << seed;
  }
  EXPECT_EQ(programs::run_real(half_close_program(true)), kHalfClosed);
}

TEST(Protocols, EofReceivedFalseClosesTheTransport) {
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(half_close_program(false)), kClosedAtEof);
  expect_no_leaks(*loop);
  EXPECT_EQ(programs::run_real(half_close_program(false)), kClosedAtEof);
}

TEST(Protocols, IsReadingAfterEofAndClose) {
  auto loop = make_sim_loop();
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    acc->setup = [](Probe& p) { p.keep_open = true; };
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    t->write_eof();
    auto until9 = [&] { return acc->probes.size() == 1 && acc->probes[0]->calls.back() == "eof"; };
    co_await eventually(until9, "eof");
    Transport& st = *acc->probes[0]->transport;
    EXPECT_FALSE(st.is_closing());
    st.resume_reading();  // nothing more to read: eof_received is not called again
    co_await simloop::sleep(5ms);
    EXPECT_EQ(joined(acc->probes[0]->calls), "made,eof");
    st.write("still writable");
    st.close();
    EXPECT_TRUE(st.is_closing());
    EXPECT_FALSE(st.is_reading());
    co_await p->closed;
    EXPECT_EQ(p->received, "still writable");
    server.close();
    co_await server.wait_closed();
  }());
  expect_no_leaks(*loop);
}

// ---- close, abort, write after close ----------------------------------------------------------

TEST(Protocols, CloseWaitsForTheBufferAbortDropsIt) {
  SimIoOptions io;
  io.net.socket_buffer = 4096;
  auto loop = make_sim_loop(nullptr, io);
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    acc->setup = [](Probe& p) { p.pause_on_made = true; };
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    const std::string big = pattern(40000, 3);

    // close(): connection_lost only once the buffer is written.
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    t->write(big);
    EXPECT_GT(t->get_write_buffer_size(), 0u);
    t->close();
    t->close();
    EXPECT_TRUE(t->is_closing());
    co_await simloop::sleep(10ms);
    EXPECT_EQ(p->lost, 0) << "close() waits for the buffer";
    EXPECT_GT(t->get_write_buffer_size(), 0u);
    co_await nth_accepted(acc, 1);
    acc->probes[0]->transport->resume_reading();
    co_await p->closed;
    EXPECT_EQ(p->lost, 1);
    EXPECT_EQ(p->lost_exc, nullptr);
    co_await acc->probes[0]->closed;
    EXPECT_TRUE(acc->probes[0]->received == big)
        << "every buffered byte was sent; got " << acc->probes[0]->received.size();
    // After connection_lost: writes are ignored (asyncio counts them and warns after a few).
    t->write("late");
    t->write("late");
    EXPECT_EQ(t->get_write_buffer_size(), 0u);
    t->abort();
    t->close();
    co_await simloop::sleep(1ms);
    EXPECT_EQ(p->lost, 1);

    // abort(): the buffer is dropped at once, connection_lost(null) follows (from a callback).
    auto [t2, p2] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    t2->write(big);
    EXPECT_GT(t2->get_write_buffer_size(), 0u);
    t2->abort();
    EXPECT_EQ(t2->get_write_buffer_size(), 0u);
    EXPECT_TRUE(t2->is_closing());
    EXPECT_EQ(p2->lost, 0) << "connection_lost comes from a loop callback, as asyncio's call_soon";
    t2->abort();
    co_await p2->closed;
    EXPECT_EQ(p2->lost, 1);
    EXPECT_EQ(p2->lost_exc, nullptr);
    co_await nth_accepted(acc, 2);
    acc->probes[1]->transport->resume_reading();
    co_await acc->probes[1]->closed;
    EXPECT_LT(acc->probes[1]->received.size(), big.size()) << "abort() dropped the buffered part";

    // close() with an empty buffer: a write right after it is ignored.
    auto [t3, p3] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    t3->close();
    t3->write("ignored");
    EXPECT_EQ(t3->get_write_buffer_size(), 0u);
    co_await p3->closed;
    co_await nth_accepted(acc, 3);
    acc->probes[2]->transport->resume_reading();
    co_await acc->probes[2]->closed;
    EXPECT_EQ(acc->probes[2]->received, "");
    for (auto* pr : {p.get(), p2.get(), p3.get()}) EXPECT_EQ(joined(pr->violations), "");
    server.close();
    co_await server.wait_closed();
  }());
  expect_no_leaks(*loop);
}

// A transport whose close() waited for its buffer must not touch its
// descriptor after connection_lost: on a real loop the number is reused by
// the next socket, and a late write would go to that socket's peer.
Coro<std::string> write_after_lost_program() {
  auto acc = std::make_shared<Accepted>();
  acc->setup = [](Probe& p) { p.pause_on_made = true; };
  simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "127.0.0.1", 0);
  auto [t, p] = co_await simloop::create_connection(client_factory(), "127.0.0.1", server.port());
  const std::string big = pattern(4 * 1024 * 1024, 5);  // more than the kernel's socket buffers
  t->write(big);
  const bool buffered = t->get_write_buffer_size() > 0;
  t->close();
  co_await nth_accepted(acc, 1);
  acc->probes[0]->transport->resume_reading();
  co_await p->closed;
  co_await acc->probes[0]->closed;
  // The next connection takes the freed descriptor numbers.
  acc->setup = nullptr;
  auto [t2, p2] = co_await simloop::create_connection(client_factory(), "127.0.0.1", server.port());
  co_await nth_accepted(acc, 2);
  t->write("GHOST");
  co_await simloop::sleep(20ms);
  std::string out = fmt::format("buffered={} first got all={} ghost at the new client='{}' at the new server='{}'",
                                buffered, acc->probes[0]->received == big, p2->received, acc->probes[1]->received);
  t2->close();
  co_await p2->closed;
  co_await acc->probes[1]->closed;
  server.close();
  co_await server.wait_closed();
  co_return out;
}

TEST(Protocols, WriteAfterConnectionLostIsIgnored) {
  const std::string expected = "buffered=true first got all=true ghost at the new client='' at the new server=''";
  EXPECT_EQ(programs::run_real(write_after_lost_program()), expected);
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(write_after_lost_program()), expected);
  expect_no_leaks(*loop);
}

// Closing a socket with unread data resets the connection (as TCP does):
// the peer's connection_lost carries ConnectionResetError.
Coro<std::string> reset_program() {
  auto acc = std::make_shared<Accepted>();
  acc->setup = [](Probe& p) { p.pause_on_made = true; };
  simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "127.0.0.1", 0);
  auto [t, p] = co_await simloop::create_connection(client_factory(), "127.0.0.1", server.port());
  t->write("unread");
  co_await nth_accepted(acc, 1);
  co_await simloop::sleep(20ms);  // "unread" is in the server's socket
  acc->probes[0]->transport->abort();
  co_await p->closed;
  co_await acc->probes[0]->closed;
  server.close();
  co_await server.wait_closed();
  co_return fmt::format("client: {} {}; server: {} {}", joined(p->calls), describe(p->lost_exc),
                        joined(acc->probes[0]->calls), describe(acc->probes[0]->lost_exc));
}

TEST(Protocols, ResetReachesConnectionLostAsConnectionResetError) {
  const std::string expected =
      fmt::format("client: made,lost ConnectionResetError({}); server: made,lost null", ECONNRESET);
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(reset_program()), expected);
  expect_no_leaks(*loop);
  EXPECT_EQ(programs::run_real(reset_program()), expected);
}

// ---- faults ---------------------------------------------------------------------------------

struct FaultReport {
  std::vector<std::string> violations;
  int resets = 0;  // connection_lost(ConnectionResetError)
  int errors = 0;  // connection_lost(any error)
};

// Echo with faults on: whatever happens, each end of each connection ends in
// exactly one connection_lost, last, and every error is an OSError.
Coro<FaultReport> faulty_echo_program(int clients) {
  auto acc = std::make_shared<Accepted>();
  acc->setup = [](Probe& p) { p.echo = true; };
  simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
  std::vector<std::shared_ptr<Probe>> mine;
  for (int c = 0; c < clients; ++c) {
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    mine.push_back(p);
    for (int m = 0; m < 8 && !t->is_closing(); ++m) t->write(message(c, m));
    if (!t->is_closing()) t->write_eof();
  }
  for (auto& p : mine) co_await p->closed;
  auto all_lost = [&] {
    for (auto& p : acc->probes) {
      if (p->lost == 0) return false;
    }
    return true;
  };
  co_await eventually(all_lost, "every server-side connection_lost");
  server.close();
  co_await server.wait_closed();
  co_await simloop::sleep(5ms);  // anything late would show now
  FaultReport r;
  for (auto& p : acc->probes) mine.push_back(p);
  for (auto& p : mine) {
    for (const std::string& v : p->violations) r.violations.push_back(v);
    if (p->lost != 1) r.violations.push_back(fmt::format("connection_lost called {} times", p->lost));
    if (p->calls.empty() || p->calls.back() != "lost") r.violations.push_back("last call " + p->calls.back());
    if (!p->lost_exc) continue;
    ++r.errors;
    try {
      std::rethrow_exception(p->lost_exc);
    } catch (const simloop::ConnectionResetError&) {
      ++r.resets;
    } catch (const simloop::OSError&) {
    } catch (const std::exception& e) {
      r.violations.push_back(std::string("not an OSError: ") + e.what());
    }
  }
  co_return r;
}

// SIMLOOP_CANCEL (seeded cancellation injection, as in the exploration
// runner) applies here: the server's connection set-up tasks may be
// cancelled, and the invariants must still hold.
simloop::sim::SimOptions sim_from_env() {
  simloop::sim::SimOptions sim;
  sim.cancel_probability = simloop::sim::options_from_env().sim.cancel_probability;
  return sim;
}

TEST(Protocols, UnderFaultsEveryConnectionEndsInOneConnectionLost) {
  SimIoOptions io;
  io.net.faults.enabled = true;
  io.net.faults.one_in = 8;
  io.net.socket_buffer = 512;
  int resets = 0;
  int errors = 0;
  std::uint64_t spurious = 0;
  std::uint64_t early_eofs = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t injected = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    auto loop = random_loop(seed, io, sim_from_env());
    loop->set_exception_handler([](EventLoop&, const simloop::ExceptionContext&) {});
    FaultReport r = run_main(*loop, faulty_echo_program(3));
    EXPECT_EQ(joined(r.violations), "") << "seed " << seed;
    expect_no_leaks(*loop, fmt::format("seed {}", seed));
    resets += r.resets;
    errors += r.errors;
    injected += dynamic_cast<simloop::sim::SimScheduler&>(loop->scheduler()).injected_cancels();
    const auto& s = FakeSelector::of(*loop).stats();
    spurious += s.spurious;
    early_eofs += s.early_eofs;
    write_errors += s.write_errors;
  }
  EXPECT_GT(resets, 0) << "a reset reaches connection_lost as ConnectionResetError";
  EXPECT_GT(errors, resets) << "and other errors (EPIPE after an early EOF) as OSErrors";
  EXPECT_GT(spurious, 0u);
  EXPECT_GT(early_eofs, 0u);
  EXPECT_GT(write_errors, 0u);
  if (sim_from_env().cancel_probability > 0) {
    EXPECT_GT(injected, 0u) << "SIMLOOP_CANCEL is set: some set-up task must have been cancelled";
  }
}

// ---- partitions -----------------------------------------------------------------------------

TEST(Protocols, HoldPartitionDeliversInOrderAtHeal) {
  auto loop = make_sim_loop();
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    FakeSelector::of(*EventLoop::running()).partition("client", "10.0.0.1", PartitionMode::Hold, 20ms);
    std::string sent;
    for (int m = 0; m < 5; ++m) {
      t->write(message(0, m));
      sent += message(0, m);
      co_await simloop::sleep(1ms);
    }
    auto until16 = [&] { return acc->probes.size() == 1 && acc->probes[0]->received == sent; };
    co_await eventually(until16, "the heal");
    EXPECT_EQ(acc->probes[0]->first_data_at, Duration{20ms}) << "held until the heal";
    t->close();
    co_await p->closed;
    co_await acc->probes[0]->closed;
    EXPECT_EQ(p->lost_exc, nullptr);
    server.close();
    co_await server.wait_closed();
  }());
  expect_no_leaks(*loop);
}

TEST(Protocols, DropPartitionResetsTheConnection) {
  auto loop = make_sim_loop();
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    co_await nth_accepted(acc, 1);
    FakeSelector::of(*EventLoop::running()).partition("client", "10.0.0.1", PartitionMode::Drop);
    t->write("into the void");
    co_await p->closed;
    co_await acc->probes[0]->closed;
    EXPECT_EQ(acc->probes[0]->received, "");
    EXPECT_EQ(describe(p->lost_exc), fmt::format("ConnectionResetError({})", ECONNRESET));
    EXPECT_EQ(describe(acc->probes[0]->lost_exc), fmt::format("ConnectionResetError({})", ECONNRESET));
    server.close();
    co_await server.wait_closed();
  }());
  expect_no_leaks(*loop);
}

// ---- a protocol method that raises ------------------------------------------------------------

std::vector<std::string> raising_protocol(const char* where) {
  auto loop = make_sim_loop();
  std::vector<std::string> reports;
  loop->set_exception_handler([&reports](EventLoop&, const simloop::ExceptionContext& c) {
    reports.push_back(c.message + " / " + describe(c.exception));
  });
  std::vector<std::string> out = loop->run_until_complete([](const char* w) -> Coro<std::vector<std::string>> {
    auto acc = std::make_shared<Accepted>();
    acc->setup = [w](Probe& p) {
      p.throw_in = w;
      p.keep_open = true;
    };
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "10.0.0.1", 7000);
    auto [t, p] = co_await simloop::create_connection(client_factory(), "10.0.0.1", 7000);
    t->write("x");
    t->write_eof();
    co_await nth_accepted(acc, 1);
    co_await acc->probes[0]->closed;
    co_await p->closed;
    server.close();
    co_await server.wait_closed();
    co_return std::vector<std::string>{
        "server: " + joined(acc->probes[0]->calls) + " " + describe(acc->probes[0]->lost_exc),
        "client: " + joined(p->calls) + " " + describe(p->lost_exc)};
  }(where));
  expect_no_leaks(*loop);
  for (const std::string& r : reports) out.push_back("handler: " + r);
  return out;
}

TEST(Protocols, RaisingDataReceivedGoesToTheHandlerAndClosesWithIt) {
  EXPECT_EQ(raising_protocol("data_received"),
            (std::vector<std::string>{"server: made,data,lost boom in data_received", "client: made,eof,lost null",
                                      "handler: Fatal error: protocol.data_received() call failed. / boom in "
                                      "data_received"}));
}

TEST(Protocols, RaisingEofReceivedGoesToTheHandlerAndClosesWithIt) {
  EXPECT_EQ(raising_protocol("eof_received"),
            (std::vector<std::string>{"server: made,data,eof,lost boom in eof_received", "client: made,eof,lost null",
                                      "handler: Fatal error: protocol.eof_received() call failed. / boom in "
                                      "eof_received"}));
}

// ---- BufferedProtocol ------------------------------------------------------------------------

struct Collector final : simloop::BufferedProtocol {
  std::array<char, 7> buf{};
  std::string got;
  std::vector<std::string> violations;
  int lost = 0;
  Future<void> closed = Future<void>::create(EventLoop::running_or_throw("Collector"));
  std::span<char> get_buffer(std::size_t sizehint) override {
    if (sizehint == 0) violations.push_back("sizehint 0");
    if (lost > 0) violations.push_back("get_buffer after connection_lost");
    return {buf.data(), buf.size()};
  }
  void buffer_updated(std::size_t n) override {
    if (n == 0 || n > buf.size()) violations.push_back(fmt::format("buffer_updated({})", n));
    got.append(buf.data(), n);
  }
  void connection_lost(std::exception_ptr exc) override {
    ++lost;
    if (exc) violations.push_back("lost with " + describe(exc));
    closed.set_result();
  }
};

Coro<std::string> buffered_program() {
  auto collectors = std::make_shared<std::vector<std::shared_ptr<Collector>>>();
  simloop::ProtocolFactory factory = [collectors] {
    collectors->push_back(std::make_shared<Collector>());
    return std::shared_ptr<simloop::BaseProtocol>(collectors->back());
  };
  simloop::ProtocolServer server = co_await simloop::create_server(factory, "127.0.0.1", 0);
  auto [t, p] = co_await simloop::create_connection(client_factory(), "127.0.0.1", server.port());
  const std::string data = pattern(10000, 9);
  for (std::size_t i = 0; i < data.size(); i += 1000) t->write(std::string_view(data).substr(i, 1000));
  t->write_eof();
  co_await p->closed;  // the server closes at EOF (eof_received: false)
  auto until19 = [&] { return collectors->size() == 1; };
  co_await eventually(until19, "the accept");
  co_await collectors->front()->closed;
  server.close();
  co_await server.wait_closed();
  const Collector& c = *collectors->front();
  co_return fmt::format("all in order={} lost={} violations={}", c.got == data, c.lost, joined(c.violations));
}

TEST(Protocols, BufferedProtocolGetsEveryByteInOrder) {
  const std::string expected = "all in order=true lost=1 violations=";
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(buffered_program()), expected);
  expect_no_leaks(*loop);
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    auto r = random_loop(seed);
    EXPECT_EQ(r->run_until_complete(buffered_program()), expected) << "seed " << seed;
  }
  EXPECT_EQ(programs::run_real(buffered_program()), expected);
}

// ---- errors -----------------------------------------------------------------------------------

Coro<std::string> refused_program() {
  auto acc = std::make_shared<Accepted>();
  simloop::ProtocolServer gone = co_await simloop::create_server(server_factory(acc), "127.0.0.1", 0);
  const int port = gone.port();
  gone.close();
  co_await gone.wait_closed();
  auto e =
      co_await raises<simloop::ConnectionRefusedError>(simloop::create_connection(client_factory(), "127.0.0.1", port));
  if (!e) co_return "nothing raised";
  const std::string what = e->what();
  co_return fmt::format("code={} names the address={} accepted={}", e->code(),
                        what.find(fmt::format("127.0.0.1:{}", port)) != std::string::npos, acc->probes.size());
}

TEST(Protocols, ConnectToAClosedPortIsConnectionRefused) {
  const std::string expected = fmt::format("code={} names the address=true accepted=0", ECONNREFUSED);
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(refused_program()), expected);
  expect_no_leaks(*loop);
  EXPECT_EQ(programs::run_real(refused_program()), expected);
}

Coro<int> bad_input() {
  auto e1 = co_await raises<simloop::Error>(simloop::create_connection(client_factory(), "127.0.0.1", 70000));
  EXPECT_NE(message_of(e1).find("port 70000 is out of range 1..65535"), std::string::npos) << message_of(e1);
  auto e2 = co_await raises<simloop::Error>(simloop::create_connection(client_factory(), "127.0.0.1", 0));
  EXPECT_NE(message_of(e2).find("port 0 is out of range"), std::string::npos) << message_of(e2);
  auto acc = std::make_shared<Accepted>();
  auto e3 = co_await raises<simloop::Error>(simloop::create_server(server_factory(acc), "127.0.0.1", -1));
  EXPECT_NE(message_of(e3).find("create_server: port -1 is out of range 0..65535"), std::string::npos)
      << message_of(e3);
  auto e4 = co_await raises<simloop::Error>(simloop::create_server(server_factory(acc), "127.0.0.1", 0, 0));
  EXPECT_NE(message_of(e4).find("backlog must be positive"), std::string::npos) << message_of(e4);
  auto e5 = co_await raises<simloop::Error>(simloop::create_server(simloop::ProtocolFactory{}, "127.0.0.1", 0));
  EXPECT_NE(message_of(e5).find("create_server: the protocol factory is empty"), std::string::npos) << message_of(e5);

  simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "127.0.0.1", 0);
  std::function<std::shared_ptr<Probe>()> null_factory = [] { return std::shared_ptr<Probe>(); };
  auto e7 = co_await raises<simloop::Error>(simloop::create_connection(null_factory, "127.0.0.1", server.port()));
  EXPECT_NE(message_of(e7).find("the protocol factory returned null"), std::string::npos) << message_of(e7);
  std::function<std::shared_ptr<simloop::DatagramProtocol>()> wrong = [] {
    return std::make_shared<simloop::DatagramProtocol>();
  };
  auto e8 = co_await raises<simloop::Error>(simloop::create_connection(wrong, "127.0.0.1", server.port()));
  EXPECT_NE(message_of(e8).find("needs a Protocol or a BufferedProtocol"), std::string::npos) << message_of(e8);
  // The refused attempts' accepted ends close (the connecting side closed first).
  auto until20 = [&] { return server.active_connections() == 0; };
  co_await eventually(until20, "the accepted ends to close");
  server.close();
  co_await server.wait_closed();
  co_return 0;
}

TEST(Protocols, BadInputNamesWhatWasWrong) {
  auto loop = make_sim_loop();
  loop->run_until_complete(bad_input());
  expect_no_leaks(*loop);
  EXPECT_EQ(programs::run_real(bad_input()), 0);
}

// An empty factory given to create_connection is named as such, as
// create_server's is, before anything connects.
TEST(Protocols, EmptyFactoryToCreateConnectionIsNamed) {
  auto loop = make_sim_loop();
  loop->run_until_complete([]() -> Coro<void> {
    auto acc = std::make_shared<Accepted>();
    simloop::ProtocolServer server = co_await simloop::create_server(server_factory(acc), "127.0.0.1", 0);
    std::function<std::shared_ptr<Probe>()> empty;
    auto e = co_await raises<simloop::Error>(simloop::create_connection(empty, "127.0.0.1", server.port()));
    EXPECT_NE(message_of(e).find("create_connection: the protocol factory is empty"), std::string::npos)
        << message_of(e);
    server.close();
    co_await server.wait_closed();
  }());
  expect_no_leaks(*loop);
}

}  // namespace
