// Programs run unchanged on the real loop (epoll, thread pool, 127.0.0.1)
// and on the simulated one (FakeSelector, FakeExecutor): their results must
// be the same whatever the schedule.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <simloop/fakes/fakes.hpp>
#include <simloop/real_loop.hpp>
#include <simloop/simloop.hpp>
#include <simloop/streams.hpp>

namespace programs {

using simloop::Coro;
using simloop::StreamReader;
using simloop::StreamWriter;

// ---- 1. a stream echo server with several clients ---------------------------------

inline Coro<void> echo_handler(StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;  // EOF
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

inline Coro<std::vector<std::string>> echo_client(int id, int port, int messages) {
  auto [reader, writer] = co_await simloop::open_connection("127.0.0.1", port);
  std::vector<std::string> got;
  for (int m = 0; m < messages; ++m) {
    // Lines of varied length, some longer than one chunk.
    std::string line =
        fmt::format("client {} message {} {}\n", id, m, std::string(static_cast<std::size_t>(m * 37 % 300), 'x'));
    writer.write(line);
    co_await writer.drain();
    got.push_back(co_await reader.readline());
  }
  writer.write_eof();
  std::string rest = co_await reader.read();  // the server closes after our EOF
  got.push_back("rest=" + rest);
  writer.close();
  co_await writer.wait_closed();
  co_return got;
}

// Every client's transcript, in client order.
inline Coro<std::vector<std::string>> echo_program(int clients, int messages) {
  simloop::Server server = co_await simloop::start_server(echo_handler, "127.0.0.1", 0);
  std::vector<simloop::Task<std::vector<std::string>>> tasks;
  for (int c = 0; c < clients; ++c) tasks.push_back(simloop::create_task(echo_client(c, server.port(), messages)));
  std::vector<std::string> all;
  for (auto& t : tasks) {
    std::vector<std::string> transcript = co_await t;
    for (std::string& s : transcript) all.push_back(std::move(s));
  }
  server.close();
  co_await server.wait_closed();
  co_return all;
}

inline std::vector<std::string> expected_echo(int clients, int messages) {
  std::vector<std::string> all;
  for (int c = 0; c < clients; ++c) {
    for (int m = 0; m < messages; ++m) {
      all.push_back(
          fmt::format("client {} message {} {}\n", c, m, std::string(static_cast<std::size_t>(m * 37 % 300), 'x')));
    }
    all.push_back("rest=");
  }
  return all;
}

// ---- 2. producers and a consumer over sockets (length-prefixed frames) ------------

struct Tally {
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  std::uint64_t checksum = 0;  // order-independent: a sum of per-frame hashes
  int producers_done = 0;
  friend bool operator==(const Tally&, const Tally&) = default;
};

inline std::uint64_t frame_hash(const std::string& body) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : body) h = (h ^ c) * 1099511628211ULL;
  return h;
}

inline std::string frame_body(int producer, int n) {
  return fmt::format(
      "p{}#{}:{}", producer, n,
      std::string(static_cast<std::size_t>((n * 131 + producer * 7) % 2000), 'a' + static_cast<char>(n % 26)));
}

inline Coro<void> consumer_handler(std::shared_ptr<Tally> tally, StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string header = co_await reader.readexactly(8);
    std::size_t size = std::stoul(header, nullptr, 16);
    if (size == 0) break;  // the producer's end marker
    std::string body = co_await reader.readexactly(size);
    tally->frames += 1;
    tally->bytes += body.size();
    tally->checksum += frame_hash(body);
  }
  tally->producers_done += 1;
  writer.write("ok\n");
  co_await writer.drain();
  writer.close();
  co_await writer.wait_closed();
}

inline Coro<std::string> producer(int id, int port, int frames) {
  auto [reader, writer] = co_await simloop::open_connection("127.0.0.1", port);
  for (int n = 0; n < frames; ++n) {
    std::string body = frame_body(id, n);
    writer.write(fmt::format("{:08x}", body.size()));
    writer.write(body);
    co_await writer.drain();
  }
  writer.write("00000000");
  co_await writer.drain();
  std::string ack = co_await reader.readline();
  writer.close();
  co_await writer.wait_closed();
  co_return ack;
}

inline Coro<Tally> producer_consumer_program(int producers, int frames) {
  auto tally = std::make_shared<Tally>();
  simloop::ClientConnected handler = [tally](StreamReader r, StreamWriter w) { return consumer_handler(tally, r, w); };
  simloop::Server server = co_await simloop::start_server(handler, "127.0.0.1", 0);
  std::vector<simloop::Task<std::string>> tasks;
  for (int p = 0; p < producers; ++p) tasks.push_back(simloop::create_task(producer(p, server.port(), frames)));
  for (auto& t : tasks) {
    std::string ack = co_await t;
    if (ack != "ok\n") throw std::runtime_error("producer got no ack: '" + ack + "'");
  }
  server.close();
  co_await server.wait_closed();
  co_return *tally;
}

inline Tally expected_tally(int producers, int frames) {
  Tally t;
  for (int p = 0; p < producers; ++p) {
    for (int n = 0; n < frames; ++n) {
      std::string body = frame_body(p, n);
      t.frames += 1;
      t.bytes += body.size();
      t.checksum += frame_hash(body);
    }
  }
  t.producers_done = producers;
  return t;
}

// ---- 3. a job pool over the executor -----------------------------------------------

inline std::uint64_t job_work(std::uint64_t i) {
  // Some real CPU work, deterministic.
  std::uint64_t x = i + 1;
  for (int k = 0; k < 1000; ++k) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  if (i % 7 == 3) throw std::runtime_error(fmt::format("job {} failed", i));
  return x;
}

struct PoolResult {
  std::vector<std::uint64_t> values;  // 0 for failed jobs
  std::vector<std::string> errors;
  friend bool operator==(const PoolResult&, const PoolResult&) = default;
};

inline Coro<void> pool_worker(std::shared_ptr<std::size_t> next, std::size_t jobs, std::shared_ptr<PoolResult> out) {
  simloop::EventLoop& loop = simloop::EventLoop::running_or_throw("pool_worker");
  while (*next < jobs) {
    const std::size_t i = (*next)++;
    simloop::Future<std::uint64_t> f = loop.run_in_executor([i] { return job_work(i); });
    std::optional<std::string> error;
    try {
      out->values[i] = co_await f;
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    if (error) out->errors[i] = *error;
  }
}

inline Coro<PoolResult> job_pool_program(std::size_t jobs, int workers) {
  auto out = std::make_shared<PoolResult>();
  out->values.assign(jobs, 0);
  out->errors.assign(jobs, "");
  auto next = std::make_shared<std::size_t>(0);
  std::vector<simloop::Task<void>> tasks;
  for (int w = 0; w < workers; ++w) tasks.push_back(simloop::create_task(pool_worker(next, jobs, out)));
  for (auto& t : tasks) co_await t;
  co_return *out;
}

inline PoolResult expected_pool(std::size_t jobs) {
  PoolResult r;
  for (std::size_t i = 0; i < jobs; ++i) {
    try {
      r.values.push_back(job_work(i));
      r.errors.emplace_back();
    } catch (const std::runtime_error& e) {
      r.values.push_back(0);
      r.errors.emplace_back(e.what());
    }
  }
  return r;
}

// ---- running them ------------------------------------------------------------------

// Runs `coro` on a real loop, refusing to take more than `limit` of real time.
template <class T>
T run_real(Coro<T> coro, std::chrono::seconds limit = std::chrono::seconds(20)) {
  auto loop = simloop::make_real_loop();
  simloop::EventLoop* l = loop.get();
  simloop::HandleRef watchdog = loop->call_later(limit, [l] { l->stop(); });
  T result = loop->run_until_complete(std::move(coro));
  watchdog.cancel();
  return result;
}

}  // namespace programs
