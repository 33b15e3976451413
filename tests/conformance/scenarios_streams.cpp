// Stream scenarios: asyncio's streams over loopback sockets, simloop's over
// the fake network (fifo: no latency, no partial reads). Each has its asyncio
// twin in scenarios/<name>.py.
#include <string>
#include <utility>

#include <simloop/fakes/fakes.hpp>

#include "scenarios.hpp"

using simloop::Coro;
using simloop::StreamReader;
using simloop::StreamWriter;

SIMLOOP_CONFORMANCE(streams_loopback_iterations) {
  auto loop = simloop::fakes::make_sim_loop();
  log.attach(*loop);
  conformance::IterationCounter counter(*loop);
  int& iteration = counter.value;
  auto handler = [&](StreamReader reader, StreamWriter writer) -> Coro<void> {
    log("handler start it={}", iteration);
    for (;;) {
      std::string line = co_await reader.readline();
      if (line.empty()) break;
      log("handler got {} it={}", line.substr(0, line.size() - 1), iteration);
      writer.write(line);
      co_await writer.drain();
    }
    writer.close();
    co_await writer.wait_closed();
    log("handler closed it={}", iteration);
  };
  auto client = [&](std::string name, int port) -> Coro<void> {
    log("{} connect it={}", name, iteration);
    auto [reader, writer] = co_await simloop::open_connection("127.0.0.1", port);
    log("{} connected it={}", name, iteration);
    for (int i = 0; i < 2; ++i) {
      writer.write(fmt::format("{}-{}\n", name, i));
      co_await writer.drain();
      std::string line = co_await reader.readline();
      log("{} got {} it={}", name, line.substr(0, line.size() - 1), iteration);
    }
    writer.close();
    co_await writer.wait_closed();
    log("{} closed it={}", name, iteration);
  };
  auto main_task = [&]() -> Coro<void> {
    simloop::Server server = co_await simloop::start_server(handler, "127.0.0.1", 0);
    const int port = server.port();
    counter.start();
    co_await simloop::sleep(simloop::Duration{0});
    co_await simloop::gather(client("a", port), client("b", port));
    server.close();
    co_await server.wait_closed();
    counter.stop();
    log("done");
  };
  loop->run_until_complete(main_task());
}
