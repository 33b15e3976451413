// FakeSelector, streams, FakeExecutor and the real backends, one behaviour at a time.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "programs.hpp"
#include "support/raises.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::ChoiceKind;
using simloop::Coro;
using simloop::Duration;
using simloop::StreamReader;
using simloop::StreamWriter;
using simloop::fakes::FakeExecutor;
using simloop::fakes::FakeSelector;
using simloop::fakes::make_sim_loop;
using simloop::testing::raises;

// Answers the largest value for Io / Executor choices (longest latency,
// smallest chunks, the last fault) and 0 for everything else.
class ExtremeScheduler final : public simloop::Scheduler {
 public:
  std::uint64_t choose(ChoiceKind kind, std::uint64_t n) override {
    ++asked_[static_cast<int>(kind)];
    if (kind == ChoiceKind::Io || kind == ChoiceKind::Executor) return value_ < n ? value_ : n - 1;
    return 0;
  }
  std::uint64_t value_ = ~std::uint64_t{0};
  int asked_[simloop::kChoiceKindCount] = {};
};

// ---- pipes, socket pairs, add_reader ------------------------------------------------

Coro<std::string> pipe_roundtrip(simloop::EventLoop* loop) {
  auto [rfd, wfd] = FakeSelector::of(*loop).pipe();
  auto [reader, unused_w] = simloop::open_stream(*loop, rfd, simloop::StreamMode::ReadOnly);
  auto [unused_r, writer] = simloop::open_stream(*loop, wfd, simloop::StreamMode::WriteOnly);
  writer.write("hello ");
  writer.write("pipe");
  writer.close();
  std::string all = co_await reader.read();
  EXPECT_TRUE(reader.at_eof());
  EXPECT_THROW(unused_w.write("x"), simloop::Error);  // a read-only stream
  unused_w.close();
  co_await writer.wait_closed();
  co_return all;
}

TEST(FakeIo, PipeCarriesBytesThenEof) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto loop = make_sim_loop(simloop::sim::make_strategy(simloop::sim::Strategy::Random, seed, {}));
    EXPECT_EQ(loop->run_until_complete(pipe_roundtrip(loop.get())), "hello pipe") << "seed " << seed;
    EXPECT_TRUE(simloop::fakes::find_leaks(*loop).empty()) << "seed " << seed;
  }
}

TEST(FakeIo, AddReaderFiresWhileDataIsBufferedAndStopsWhenRemoved) {
  auto loop = make_sim_loop();
  FakeSelector& net = FakeSelector::of(*loop);
  const std::pair<int, int> fds = net.socketpair();
  const int a = fds.first;
  const int b = fds.second;
  int calls = 0;
  std::string got;
  loop->add_reader(b, [&] {
    ++calls;
    char buf[3];
    std::ptrdiff_t n = net.read(b, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (got.size() >= 7) loop->remove_reader(b);
  });
  ASSERT_EQ(net.write(a, "abcdefg", 7), 7);
  auto body = []() -> Coro<void> { co_await simloop::sleep(1ms); };
  loop->run_until_complete(body());
  EXPECT_EQ(got, "abcdefg");
  EXPECT_EQ(calls, 3);  // 3 + 3 + 1 bytes, level-triggered
  EXPECT_FALSE(loop->remove_reader(b));
  EXPECT_THROW(loop->add_reader(12345, [] {}), simloop::Error);
  net.close(a);
  net.close(b);
}

TEST(FakeIo, SocketPairStreamsBothWays) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<std::string> {
    auto [fa, fb] = FakeSelector::of(*loop).socketpair();
    auto [ra, wa] = simloop::open_stream(*loop, fa);
    auto [rb, wb] = simloop::open_stream(*loop, fb);
    wa.write("ping\n");
    std::string line = co_await rb.readline();
    wb.write("pong to " + line);
    std::string reply = co_await ra.readline();
    wa.close();
    wb.close();
    co_await wa.wait_closed();
    co_await wb.wait_closed();
    co_return reply;
  };
  EXPECT_EQ(loop->run_until_complete(body()), "pong to ping\n");
  EXPECT_TRUE(simloop::fakes::find_leaks(*loop).empty());
}

// ---- StreamReader semantics -------------------------------------------------------------

struct Pair {
  StreamReader r;
  StreamWriter w;
  StreamReader peer_r;
  StreamWriter peer_w;
};
Pair make_pair_streams(simloop::EventLoop& loop, simloop::StreamOptions options = {}) {
  auto [fa, fb] = FakeSelector::of(loop).socketpair();
  auto [ra, wa] = simloop::open_stream(loop, fa, simloop::StreamMode::ReadWrite, options);
  auto [rb, wb] = simloop::open_stream(loop, fb, simloop::StreamMode::ReadWrite, options);
  return Pair{ra, wa, rb, wb};
}

TEST(FakeIo, ReadexactlyRaisesIncompleteReadAtEof) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<void> {
    Pair p = make_pair_streams(*loop);
    p.peer_w.write("abc");
    p.peer_w.write_eof();
    const auto error = co_await raises<simloop::IncompleteReadError>(p.r.readexactly(5));
    EXPECT_TRUE(error.has_value());
    if (error) {
      EXPECT_EQ(error->partial(), "abc");
      EXPECT_EQ(error->expected(), std::optional<std::size_t>(5));
    }
    EXPECT_TRUE(p.r.at_eof());
    p.w.close();
    p.peer_w.close();
    co_await p.w.wait_closed();
  };
  loop->run_until_complete(body());
}

TEST(FakeIo, ReaduntilAndReadlineFollowAsyncio) {
  auto loop = make_sim_loop(std::make_unique<ExtremeScheduler>());  // short reads and writes, long latencies
  auto body = [&]() -> Coro<void> {
    Pair p = make_pair_streams(*loop);
    p.peer_w.write("one\r\ntwo\nlast");
    p.peer_w.write_eof();
    EXPECT_EQ(co_await p.r.readuntil("\r\n"), "one\r\n");
    EXPECT_EQ(co_await p.r.readline(), "two\n");
    EXPECT_EQ(co_await p.r.readline(), "last");  // a partial line at EOF
    EXPECT_EQ(co_await p.r.readline(), "");
    EXPECT_EQ(co_await p.r.read(10), "");
    p.w.close();
    p.peer_w.close();
    co_await p.w.wait_closed();
  };
  loop->run_until_complete(body());
}

TEST(FakeIo, LimitOverrunKeepsDataForReaduntilAndDropsTheLineForReadline) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<void> {
    simloop::StreamOptions options;
    options.limit = 8;
    Pair p = make_pair_streams(*loop, options);
    p.peer_w.write("0123456789abcdef\nrest\n");
    co_await simloop::sleep(1ms);
    const auto overrun = co_await raises<simloop::LimitOverrunError>(p.r.readuntil("\n"));
    EXPECT_TRUE(overrun);
    if (overrun) {
      EXPECT_EQ(overrun->consumed(), 16u);
    }
    EXPECT_EQ(p.r.buffered(), 22u);  // readuntil leaves the data
    // readline raises what asyncio raises there: ValueError (InvalidArgumentError).
    const auto too_long = co_await raises<simloop::InvalidArgumentError>(p.r.readline());
    EXPECT_TRUE(too_long);
    if (too_long) {
      EXPECT_STREQ(too_long->what(), "Separator is found, but chunk is longer than limit");
    }
    EXPECT_EQ(co_await p.r.readline(), "rest\n");  // readline dropped the long line
    p.w.close();
    p.peer_w.close();
    co_await p.w.wait_closed();
  };
  loop->run_until_complete(body());
}

TEST(FakeIo, TwoReadersWaitingAtOnceIsAnError) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<void> {
    Pair p = make_pair_streams(*loop);
    auto first = simloop::create_task(p.r.read(1));
    co_await simloop::sleep(0ms);
    EXPECT_TRUE(co_await raises<simloop::Error>(p.r.read(1)));
    p.peer_w.write("x");
    EXPECT_EQ(co_await first, "x");
    p.w.close();
    p.peer_w.close();
    co_await p.w.wait_closed();
  };
  loop->run_until_complete(body());
}

TEST(FakeIo, DrainWaitsForTheBufferToFallBelowTheLowWaterMark) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<void> {
    Pair p = make_pair_streams(*loop);
    // More than the socket (64 KiB) and the peer's reader (it pauses above
    // 2 * 64 KiB) hold together.
    const std::string chunk(1024 * 1024, 'z');
    p.w.write(chunk);
    // The socket took 64 KiB; the rest waits in the transport's buffer.
    EXPECT_GT(p.w.write_buffer_size(), 64u * 1024);
    auto drained = simloop::create_task(p.w.drain());
    co_await simloop::sleep(1ms);
    EXPECT_FALSE(drained.done());  // nobody reads: the writer is paused
    std::string got;
    while (got.size() < chunk.size()) got += co_await p.peer_r.read(8192);
    co_await drained;
    EXPECT_EQ(got, chunk);
    EXPECT_EQ(p.w.write_buffer_size(), 0u);
    p.w.close();
    p.peer_w.close();
    co_await p.w.wait_closed();
  };
  loop->run_until_complete(body());
}

TEST(FakeIo, ReadingPausesAboveTwiceTheLimit) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<void> {
    simloop::StreamOptions options;
    options.limit = 1024;
    Pair p = make_pair_streams(*loop, options);
    p.peer_w.write(std::string(10000, 'q'));
    co_await simloop::sleep(1ms);
    // One read of what had arrived, then the transport stopped reading.
    EXPECT_LE(p.r.buffered(), 10000u);
    EXPECT_GT(p.r.buffered(), 2048u);
    std::string all;
    while (all.size() < 10000) all += co_await p.r.read(4096);
    EXPECT_EQ(all, std::string(10000, 'q'));
    p.w.close();
    p.peer_w.close();
    co_await p.w.wait_closed();
  };
  loop->run_until_complete(body());
}

// ---- connections, time, deadlock ----------------------------------------------------------

Coro<void> refused_connect() { co_await simloop::open_connection("127.0.0.1", 9); }

TEST(FakeIo, ConnectingToNoListenerIsRefused) {
  auto loop = make_sim_loop();
  EXPECT_THROW(loop->run_until_complete(refused_connect()), simloop::ConnectionRefusedError);
  EXPECT_TRUE(simloop::fakes::find_leaks(*loop).empty()) << "the failed socket is closed";
}

TEST(FakeIo, LatencyIsVirtualTimeAndFifoHasNone) {
  auto run = [](std::unique_ptr<simloop::Scheduler> s) {
    auto loop = make_sim_loop(std::move(s));
    loop->run_until_complete(programs::echo_program(1, 3));
    return loop->time();
  };
  EXPECT_EQ(run(nullptr), Duration{0});
  // 8 latency steps of 100us: each delivery takes 700us under the extreme scheduler.
  Duration slow = run(std::make_unique<ExtremeScheduler>());
  EXPECT_GE(slow, 700us);
  EXPECT_EQ(slow.count() % 100'000, 0);
}

TEST(FakeIo, ReadingFromASilentPeerIsADeadlock) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<void> {
    Pair p = make_pair_streams(*loop);
    co_await p.r.read(1);  // nobody ever writes
  };
  EXPECT_THROW(loop->run_until_complete(body()), simloop::DeadlockError);
}

TEST(FakeIo, EveryFakeDecisionIsAnIoOrExecutorChoice) {
  auto sched = std::make_unique<ExtremeScheduler>();
  ExtremeScheduler* s = sched.get();
  auto loop = make_sim_loop(std::move(sched));
  loop->run_until_complete(programs::echo_program(2, 2));
  loop->run_until_complete(programs::job_pool_program(3, 2));
  EXPECT_GT(s->asked_[static_cast<int>(ChoiceKind::Io)], 0);
  EXPECT_GT(s->asked_[static_cast<int>(ChoiceKind::Executor)], 0);
}

TEST(FakeIo, ARecordedRunReplaysExactly) {
  using namespace simloop::sim;
  auto record = [](std::unique_ptr<SimScheduler> s, std::vector<Choice>* out) {
    ChoiceRecorder rec;
    s->add_observer(&rec);
    auto loop = make_sim_loop(std::move(s));
    auto result = loop->run_until_complete(programs::echo_program(3, 5));
    EXPECT_EQ(result, programs::expected_echo(3, 5));
    *out = rec.take();
    return std::make_pair(loop->time(), loop->steps());
  };
  std::vector<Choice> first, second;
  auto a = record(make_strategy(Strategy::Random, 42, {}), &first);
  auto b = record(std::make_unique<ListStrategy>(first), &second);
  EXPECT_EQ(a, b);
  EXPECT_EQ(first, second);
  EXPECT_GT(first.size(), 50u);
}

// ---- the network: hosts, partitions, faults ---------------------------------------------------

Coro<void> db_handler(StreamReader r, StreamWriter w) {
  std::string line = co_await r.readline();
  w.write("got " + line);
  co_await w.drain();
  w.close();
}

Coro<Duration> partitioned_request(simloop::EventLoop* loop) {
  FakeSelector& net = FakeSelector::of(*loop);
  simloop::Server server = co_await simloop::start_server(db_handler, "db", 5432);
  simloop::StreamOptions from_app;
  from_app.local_host = "app";
  auto [r, w] = co_await simloop::open_connection("db", 5432, from_app);
  net.partition("app", "db", simloop::fakes::PartitionMode::Hold, 5ms);
  w.write("select\n");
  std::string reply = co_await r.readline();
  EXPECT_EQ(reply, "got select\n");
  Duration at = loop->time();
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
  co_return at;
}

TEST(FakeNetwork, HoldPartitionDelaysTrafficUntilItHeals) {
  auto loop = make_sim_loop();
  Duration at = loop->run_until_complete(partitioned_request(loop.get()));
  EXPECT_GE(at, 5ms);
  EXPECT_FALSE(FakeSelector::of(*loop).partitioned("app", "db"));
  EXPECT_TRUE(simloop::fakes::find_leaks(*loop).empty());
}

Coro<std::string> dropped_request(simloop::EventLoop* loop) {
  FakeSelector& net = FakeSelector::of(*loop);
  simloop::Server server = co_await simloop::start_server(db_handler, "db", 5432);
  simloop::StreamOptions from_app;
  from_app.local_host = "app";
  auto [r, w] = co_await simloop::open_connection("db", 5432, from_app);
  net.partition("app", "db", simloop::fakes::PartitionMode::Drop);
  w.write("select\n");
  std::string outcome = (co_await raises<simloop::ConnectionResetError>(r.readline())) ? "reset" : "no error";
  net.heal("app", "db");
  // A new connection works again.
  auto [r2, w2] = co_await simloop::open_connection("db", 5432, from_app);
  w2.write("again\n");
  outcome += " / " + co_await r2.readline();
  w.close();
  w2.close();
  server.close();
  co_await server.wait_closed();
  co_return outcome;
}

TEST(FakeNetwork, DropPartitionResetsTheConnectionAndHealingRestoresService) {
  auto loop = make_sim_loop();
  EXPECT_EQ(loop->run_until_complete(dropped_request(loop.get())), "reset / got again\n");
}

TEST(FakeNetwork, ConnectAcrossADropPartitionTimesOut) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<void> {
    simloop::Server server = co_await simloop::start_server(db_handler, "db", 1);
    FakeSelector::of(*loop).partition("app", "db", simloop::fakes::PartitionMode::Drop);
    simloop::StreamOptions from_app;
    from_app.local_host = "app";
    const auto error = co_await raises<simloop::OSError>(simloop::open_connection("db", 1, from_app));
    EXPECT_EQ(error ? error->code() : 0, ETIMEDOUT);
    server.close();
  };
  loop->run_until_complete(body());
}

TEST(FakeNetwork, FaultsSurfaceAsStreamErrorsNeverAsCrashesOrHangs) {
  simloop::fakes::NetStats total;
  int failed_runs = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    simloop::fakes::SimIoOptions io;
    io.net.faults.enabled = true;
    io.net.faults.one_in = 8;
    auto loop = make_sim_loop(simloop::sim::make_strategy(simloop::sim::Strategy::Random, seed, {}), io);
    loop->set_exception_handler([](simloop::EventLoop&, const simloop::ExceptionContext&) {});
    bool wrong = false;
    try {
      wrong = loop->run_until_complete(programs::echo_program(2, 6)) != programs::expected_echo(2, 6);
    } catch (const simloop::ConnectionError&) {
      ++failed_runs;
    } catch (const simloop::IncompleteReadError&) {
      ++failed_runs;
    }
    const auto& s = FakeSelector::of(*loop).stats();
    // The echo client does not check that a line is complete: only a
    // truncated stream (an early EOF) can make it see a wrong transcript.
    if (wrong) {
      EXPECT_GT(s.early_eofs, 0u) << "a wrong transcript without an early EOF, seed " << seed;
    }
    total.resets += s.resets;
    total.early_eofs += s.early_eofs;
    total.write_errors += s.write_errors;
    total.spurious += s.spurious;
  }
  EXPECT_GT(failed_runs, 0);
  EXPECT_GT(total.resets, 0u);
  EXPECT_GT(total.early_eofs, 0u);
  EXPECT_GT(total.write_errors, 0u);
  EXPECT_GT(total.spurious, 0u);
}

TEST(FakeNetwork, ClosingWithUnreadDataResetsThePeer) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<bool> {
    FakeSelector& net = FakeSelector::of(*loop);
    auto [fa, fb] = net.socketpair();
    auto [r, w] = simloop::open_stream(*loop, fa);
    w.write("unread");
    co_await simloop::sleep(1ms);
    net.close(fb);  // a raw socket that never read what arrived
    const bool reset = (co_await raises<simloop::ConnectionResetError>(r.read(10))).has_value();
    w.close();
    co_return reset;
  };
  EXPECT_TRUE(loop->run_until_complete(body()));
}

TEST(FakeNetwork, ClosingAfterReadingEverythingSendsEof) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<std::string> {
    Pair p = make_pair_streams(*loop);
    p.w.write("read by the transport");
    co_await simloop::sleep(1ms);
    p.peer_w.close();  // its transport read the bytes already
    std::string got = co_await p.r.read(10);
    p.w.close();
    co_return got;
  };
  EXPECT_EQ(loop->run_until_complete(body()), "");
}

Coro<void> hold_until_told(std::shared_ptr<simloop::Future<void>> release, StreamReader r, StreamWriter w) {
  co_await *release;
  (void)r;
  w.close();
}

TEST(FakeNetwork, ServerWaitClosedWaitsForItsConnections) {
  auto loop = make_sim_loop();
  auto release = std::make_shared<simloop::Future<void>>(simloop::Future<void>::create(*loop));
  auto body = [&]() -> Coro<std::vector<std::string>> {
    simloop::ClientConnected cb = [release](StreamReader r, StreamWriter w) { return hold_until_told(release, r, w); };
    simloop::Server server = co_await simloop::start_server(cb, "127.0.0.1", 0);
    auto [r, w] = co_await simloop::open_connection("127.0.0.1", server.port());
    co_await simloop::sleep(1ms);
    std::vector<std::string> seen;
    seen.push_back("active=" + std::to_string(server.active_connections()));
    server.close();
    EXPECT_FALSE(server.is_serving());
    auto closed = simloop::create_task(server.wait_closed());
    co_await simloop::sleep(5ms);
    seen.push_back(closed.done() ? "closed early" : "still waiting");
    release->set_result();
    co_await closed;
    seen.push_back("closed at " + std::to_string(loop->time().count() / 1'000'000) + "ms");
    std::string eof = co_await r.read();
    seen.push_back("client read '" + eof + "'");
    w.close();
    co_return seen;
  };
  EXPECT_EQ(loop->run_until_complete(body()),
            (std::vector<std::string>{"active=1", "still waiting", "closed at 6ms", "client read ''"}));
}

TEST(FakeNetwork, AfterAResetDrainRaisesAndWritesAreDropped) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<std::string> {
    FakeSelector& net = FakeSelector::of(*loop);
    auto [fa, fb] = net.socketpair();
    auto [r, w] = simloop::open_stream(*loop, fa);
    w.write("never read");
    co_await simloop::sleep(1ms);
    net.close(fb);  // unread data: the peer resets
    co_await simloop::sleep(1ms);
    std::string outcome = (co_await raises<simloop::ConnectionResetError>(w.drain())) ? "drain raised" : "drain ok";
    w.write("after the loss");  // dropped, as asyncio does: no exception
    outcome += w.write_buffer_size() == 0 ? ", write dropped" : ", write buffered";
    const bool closed_with_error = (co_await raises<simloop::ConnectionResetError>(w.wait_closed())).has_value();
    outcome += closed_with_error ? ", wait_closed raised" : ", wait_closed ok";
    (void)r;
    co_return outcome;
  };
  EXPECT_EQ(loop->run_until_complete(body()), "drain raised, write dropped, wait_closed raised");
  EXPECT_TRUE(simloop::fakes::find_leaks(*loop).empty());
}

// ---- leaks ----------------------------------------------------------------------------

TEST(FakeLeaks, UnclosedTransportsAndServersAreReported) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<simloop::Server> {
    simloop::Server server = co_await simloop::start_server(db_handler, "127.0.0.1", 0);
    Pair p = make_pair_streams(*loop);
    p.w.close();
    co_return server;  // the server and one end of the pair stay open
  };
  simloop::Server server = loop->run_until_complete(body());
  auto leaks = simloop::fakes::find_leaks(*loop);
  ASSERT_EQ(leaks.size(), 2u);
  EXPECT_NE(leaks[0].find("listener on 127.0.0.1:40000"), std::string::npos) << leaks[0];
  EXPECT_NE(leaks[1].find("unclosed transport: fd"), std::string::npos) << leaks[1];
  EXPECT_THROW(simloop::fakes::assert_no_leaks(*loop), simloop::fakes::LeakError);
  server.close();
}

// ---- FakeExecutor ------------------------------------------------------------------------

std::uint64_t square(std::uint64_t x) { return x * x; }

TEST(FakeExecutor, JobTakesItsChosenVirtualDuration) {
  auto loop = make_sim_loop(std::make_unique<ExtremeScheduler>());
  auto body = [&]() -> Coro<std::uint64_t> { co_return co_await loop->run_in_executor([] { return square(12); }); };
  EXPECT_EQ(loop->run_until_complete(body()), 144u);
  EXPECT_EQ(loop->time(), 9ms);  // the largest of 10 steps of 1ms
  EXPECT_EQ(FakeExecutor::of(*loop).completed(), 1u);
}

TEST(FakeExecutor, NaturalChoiceCompletesAtOnceOnTheLoopThread) {
  auto loop = make_sim_loop();
  const std::thread::id loop_thread = std::this_thread::get_id();
  auto body = [&]() -> Coro<bool> {
    co_return co_await loop->run_in_executor([loop_thread] { return std::this_thread::get_id() == loop_thread; });
  };
  EXPECT_TRUE(loop->run_until_complete(body()));
  EXPECT_EQ(loop->time(), Duration{0});
}

TEST(FakeExecutor, AnExceptionInTheJobReachesTheAwaitingTask) {
  auto loop = make_sim_loop();
  auto body = [&]() -> Coro<std::string> {
    const auto error = co_await raises<std::runtime_error>(
        loop->run_in_executor([]() -> int { throw std::runtime_error("disk on fire"); }));
    co_return error ? error->what() : "no error";
  };
  EXPECT_EQ(loop->run_until_complete(body()), "disk on fire");
}

TEST(FakeExecutor, CancellingTheFutureBeforeTheJobStartsSkipsIt) {
  auto loop = make_sim_loop(std::make_unique<ExtremeScheduler>());
  bool ran = false;
  auto body = [&]() -> Coro<bool> {
    simloop::Future<int> f = loop->run_in_executor([&ran] {
      ran = true;
      return 1;
    });
    co_await simloop::sleep(1ms);
    f.cancel();
    const bool cancelled = (co_await raises<simloop::CancelledError>(f)).has_value();
    co_await simloop::sleep(20ms);  // past the job's completion time
    co_return cancelled;
  };
  EXPECT_TRUE(loop->run_until_complete(body()));
  EXPECT_FALSE(ran);
  EXPECT_EQ(FakeExecutor::of(*loop).outstanding(), 0u);
}

TEST(FakeExecutor, CancellingTheAwaitingTaskCancelsTheJob) {
  auto loop = make_sim_loop(std::make_unique<ExtremeScheduler>());
  bool ran = false;
  auto waiter = [&]() -> Coro<int> {
    co_return co_await loop->run_in_executor([&ran] {
      ran = true;
      return 1;
    });
  };
  auto body = [&]() -> Coro<bool> {
    auto t = simloop::create_task(waiter());
    co_await simloop::sleep(1ms);
    t.cancel();
    const bool cancelled = (co_await raises<simloop::CancelledError>(t)).has_value();
    co_await simloop::sleep(20ms);
    co_return cancelled;
  };
  EXPECT_TRUE(loop->run_until_complete(body()));
  EXPECT_FALSE(ran);
}

TEST(FakeExecutor, UnfinishedJobsAreLeaksAndKeepTheLoopFromDeadlock) {
  auto loop = make_sim_loop(std::make_unique<ExtremeScheduler>());
  auto body = [&]() -> Coro<void> {
    (void)loop->run_in_executor([] { return 1; });
    co_return;
  };
  loop->run_until_complete(body());
  auto leaks = simloop::fakes::find_leaks(*loop);
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_NE(leaks[0].find("unfinished executor job 1"), std::string::npos) << leaks[0];
  // An executor job pending is an event to come: waiting on it is no deadlock.
  auto wait = [&]() -> Coro<void> { co_await simloop::sleep(1ms); };
  loop->run_until_complete(wait());
}

// Executor durations from a script, every other choice natural.
class ScriptedDurations final : public simloop::Scheduler {
 public:
  explicit ScriptedDurations(std::vector<std::uint64_t> steps) : steps_(std::move(steps)) {}
  std::uint64_t choose(ChoiceKind kind, std::uint64_t n) override {
    if (kind != ChoiceKind::Executor || next_ >= steps_.size()) return 0;
    return std::min(steps_[next_++], n - 1);
  }

 private:
  std::vector<std::uint64_t> steps_;
  std::size_t next_ = 0;
};

TEST(FakeExecutor, ACompletionIsSeenAtItsOwnTimeNotAtTheNextJobs) {
  auto loop = make_sim_loop(std::make_unique<ScriptedDurations>(std::vector<std::uint64_t>{0, 9}));
  auto body = [&]() -> Coro<std::vector<Duration>> {
    simloop::Future<int> fast = loop->run_in_executor([] { return 1; });
    simloop::Future<int> slow = loop->run_in_executor([] { return 2; });
    std::vector<Duration> at;
    co_await fast;
    at.push_back(loop->time());
    co_await slow;
    at.push_back(loop->time());
    co_return at;
  };
  EXPECT_EQ(loop->run_until_complete(body()), (std::vector<Duration>{0ms, 9ms}));
}

TEST(FakeExecutor, NeedsAFakeSelector) {
  EXPECT_THROW(simloop::sim::SimLoop(nullptr, nullptr, std::make_unique<FakeExecutor>()), simloop::Error);
}

// ---- the real backends -------------------------------------------------------------------

// Real-loop tests are bounded in time: past the limit the loop stops, and
// run_until_complete raises LoopStoppedError instead of hanging.
simloop::HandleRef arm_watchdog(simloop::EventLoop& loop, Duration limit = 10s) {
  return loop.call_later(limit, [l = &loop] { l->stop(); });
}

TEST(RealLoop, CallSoonThreadsafeWakesABlockedSelect) {
  auto loop = simloop::make_real_loop();
  simloop::HandleRef watchdog = arm_watchdog(*loop);
  simloop::Future<int> f = simloop::Future<int>::create(*loop);
  simloop::Future<int>* fp = &f;  // futures are single-threaded: only the loop thread touches it
  simloop::EventLoop* l = loop.get();
  std::thread other([l, fp] {
    std::this_thread::sleep_for(50ms);
    l->call_soon_threadsafe([fp] { fp->set_result(7); });
  });
  const auto start = std::chrono::steady_clock::now();
  // Only the watchdog's timer is armed: without the eventfd wakeup, select
  // would sleep until it fires.
  EXPECT_EQ(loop->run_until_complete(f), 7);
  other.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(RealLoop, ExecutorJobsRunOnOtherThreads) {
  auto loop = simloop::make_real_loop();
  simloop::HandleRef watchdog = arm_watchdog(*loop);
  const std::thread::id loop_thread = std::this_thread::get_id();
  auto body = [&]() -> Coro<bool> {
    co_return co_await loop->run_in_executor([loop_thread] { return std::this_thread::get_id() != loop_thread; });
  };
  EXPECT_TRUE(loop->run_until_complete(body()));
}

TEST(RealLoop, PipeAndAddReader) {
  auto loop = simloop::make_real_loop();
  simloop::HandleRef watchdog = arm_watchdog(*loop);
  auto& sock = simloop::sockets_of(*loop);
  const std::pair<int, int> fds = sock.pipe();
  const int rfd = fds.first;
  const int wfd = fds.second;
  ASSERT_GE(rfd, 0);
  auto body = [&]() -> Coro<std::string> {
    auto [reader, unused_w] = simloop::open_stream(*loop, rfd, simloop::StreamMode::ReadOnly);
    auto [unused_r, writer] = simloop::open_stream(*loop, wfd, simloop::StreamMode::WriteOnly);
    writer.write("real pipe");
    writer.close();
    std::string all = co_await reader.read();
    unused_w.close();
    co_return all;
  };
  EXPECT_EQ(loop->run_until_complete(body()), "real pipe");
}

TEST(RealLoop, ConnectionRefusedOnAClosedPort) {
  auto loop = simloop::make_real_loop();
  simloop::HandleRef watchdog = arm_watchdog(*loop);
  auto body = [&]() -> Coro<int> {
    // Find a free port, then close it again.
    simloop::Server s = co_await simloop::start_server(db_handler, "127.0.0.1", 0);
    int port = s.port();
    s.close();
    co_await s.wait_closed();
    co_return port;
  };
  int port = loop->run_until_complete(body());
  auto connect = [&]() -> Coro<void> { co_await simloop::open_connection("127.0.0.1", port); };
  EXPECT_THROW(loop->run_until_complete(connect()), simloop::ConnectionRefusedError);
}

TEST(RealLoop, StreamsRefuseALoopWithoutSockets) {
  simloop::sim::SimLoop loop;
  EXPECT_THROW(loop.run_until_complete(refused_connect()), simloop::Error);
}

}  // namespace
