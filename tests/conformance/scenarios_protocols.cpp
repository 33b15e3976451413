// Conformance scenarios of protocols and transports (create_connection,
// create_server, write flow control) and of the streams' drain() on them:
// asyncio over loopback sockets, simloop on the fake network under fifo.
// Each has its asyncio twin in scenarios/<name>.py.
#include <cctype>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simloop/fakes/fakes.hpp>

#include "scenarios.hpp"

namespace {

using simloop::Coro;

using conformance::py;

// A transport's "peername" / "sockname" as "host:port" ("?" if unknown).
std::string addr(const simloop::BaseTransport& t, std::string_view name) {
  return t.get_extra_info(name).value_or("?");
}

using conformance::exc_text;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

SIMLOOP_CONFORMANCE(protocol_echo_server) {
  auto loop = simloop::fakes::make_sim_loop();
  log.attach(*loop);
  conformance::IterationCounter counter(*loop);
  int& iteration = counter.value;

  struct Echo final : simloop::Protocol {
    conformance::Log* log;
    int* it;
    simloop::Transport* transport = nullptr;
    std::string peer;
    std::string local;
    void connection_made(simloop::BaseTransport& t) override {
      transport = static_cast<simloop::Transport*>(&t);
      (*log)("server made closing={} can_write_eof={} it={}", py(transport->is_closing()),
             py(transport->can_write_eof()), *it);
      peer = addr(*transport, "peername");
      local = addr(*transport, "sockname");
    }
    void data_received(std::string_view data) override {
      (*log)("server got {} it={}", data, *it);
      transport->write(upper(data));
    }
    bool eof_received() override {
      (*log)("server eof closing={} it={}", py(transport->is_closing()), *it);
      transport->write("bye");
      transport->close();
      (*log)("server closing={} it={}", py(transport->is_closing()), *it);
      return true;
    }
    void connection_lost(std::exception_ptr exc) override {
      (*log)("server lost {} it={}", exc_text(exc), *it);
      transport = nullptr;
    }
  };
  struct Client final : simloop::Protocol {
    conformance::Log* log;
    int* it;
    simloop::Queue<std::string> replies;
    simloop::Future<void> lost = simloop::Future<void>::create(*simloop::EventLoop::running());
    void connection_made(simloop::BaseTransport&) override { (*log)("client made it={}", *it); }
    void data_received(std::string_view data) override {
      (*log)("client got {} it={}", data, *it);
      replies.put_nowait(std::string(data));
    }
    bool eof_received() override {
      (*log)("client eof it={}", *it);
      return false;  // the transport closes itself
    }
    void connection_lost(std::exception_ptr exc) override {
      (*log)("client lost {} it={}", exc_text(exc), *it);
      lost.set_result();
    }
  };

  auto main_task = [&]() -> Coro<void> {
    counter.start();
    std::vector<std::shared_ptr<Echo>> protocols;
    simloop::ProtocolFactory factory = [&]() -> std::shared_ptr<simloop::BaseProtocol> {
      auto p = std::make_shared<Echo>();
      p->log = &log;
      p->it = &iteration;
      protocols.push_back(p);
      return p;
    };
    simloop::ProtocolServer server = co_await simloop::create_server(factory, "127.0.0.1", 0);
    const int server_port = server.port();
    const std::string server_addr = fmt::format("127.0.0.1:{}", server_port);
    log("server serving={} it={}", py(server.is_serving()), iteration);
    auto client_factory = [&] {
      auto c = std::make_shared<Client>();
      c->log = &log;
      c->it = &iteration;
      return c;
    };
    auto [transport, client] = co_await simloop::create_connection(client_factory, "127.0.0.1", server_port);
    log("client connected closing={} can_write_eof={} it={}", py(transport->is_closing()),
        py(transport->can_write_eof()), iteration);
    const std::string peer = addr(*transport, "peername");
    const std::string local = addr(*transport, "sockname");
    log("client peer_is_server={} local_is_server={} it={}", py(peer == server_addr), py(local == server_addr),
        iteration);
    for (int i = 0; i < 3; ++i) {
      transport->write(fmt::format("msg{}", i));
      log("client sent msg{} buffered={} it={}", i, transport->get_write_buffer_size(), iteration);
      std::string reply = co_await client->replies.get();
      log("client reply {} it={}", reply, iteration);
    }
    const std::shared_ptr<Echo>& echo = protocols.at(0);
    log("server side peer_is_client={} local_is_server={} it={}", py(echo->peer == local),
        py(echo->local == server_addr), iteration);
    transport->write_eof();
    log("client wrote eof closing={} it={}", py(transport->is_closing()), iteration);
    std::string reply = co_await client->replies.get();
    log("client reply {} it={}", reply, iteration);
    co_await client->lost;
    log("client closing={} it={}", py(transport->is_closing()), iteration);
    server.close();
    log("server serving={} it={}", py(server.is_serving()), iteration);
    co_await server.wait_closed();
    log("server closed it={}", iteration);
    counter.stop();
    log("done");
  };
  loop->run_until_complete(main_task());
}

namespace {

std::string limits_text(std::pair<std::size_t, std::size_t> limits) {
  return fmt::format("({}, {})", limits.first, limits.second);
}

using conformance::exc_type;

}  // namespace

SIMLOOP_CONFORMANCE(protocol_write_pauses_at_high_water) {
  auto loop = simloop::fakes::make_sim_loop();
  log.attach(*loop);
  constexpr std::size_t kChunk = 64 * 1024;
  constexpr std::size_t kHigh = 100'000;
  constexpr std::size_t kLow = 20'000;
  constexpr std::size_t kMore = 64 * 1024;         // kLow + kMore <= kHigh
  constexpr std::size_t kCap = 256 * 1024 * 1024;  // a bound on the writes, never reached

  struct Reader final : simloop::Protocol {
    conformance::Log* log;
    std::size_t received = 0;
    bool got_data = false;
    simloop::Transport* transport = nullptr;
    simloop::Future<std::size_t> done = simloop::Future<std::size_t>::create(*simloop::EventLoop::running());
    void connection_made(simloop::BaseTransport& t) override {
      transport = static_cast<simloop::Transport*>(&t);
      transport->pause_reading();
      (*log)("server made reading={}", py(transport->is_reading()));
    }
    void data_received(std::string_view data) override {
      if (!got_data) {
        got_data = true;
        (*log)("server first data");
      }
      received += data.size();
    }
    bool eof_received() override {
      (*log)("server eof");
      return false;
    }
    void connection_lost(std::exception_ptr exc) override {
      (*log)("server lost {}", exc_text(exc));
      transport = nullptr;
      done.set_result(received);
    }
  };
  struct Writer final : simloop::Protocol {
    conformance::Log* log;
    simloop::Transport* transport = nullptr;
    simloop::Future<void> paused = simloop::Future<void>::create(*simloop::EventLoop::running());
    simloop::Future<void> resumed = simloop::Future<void>::create(*simloop::EventLoop::running());
    simloop::Future<void> lost = simloop::Future<void>::create(*simloop::EventLoop::running());
    int pauses = 0;
    void connection_made(simloop::BaseTransport& t) override {
      transport = static_cast<simloop::Transport*>(&t);
      (*log)("client made");
    }
    void pause_writing() override {
      ++pauses;
      const std::size_t size = transport->get_write_buffer_size();
      (*log)("client pause_writing above_high={} pauses={}", py(size > kHigh), pauses);
      if (!paused.done()) paused.set_result();
    }
    void resume_writing() override {
      const std::size_t size = transport->get_write_buffer_size();
      (*log)("client resume_writing at_most_low={}", py(size <= kLow));
      if (!resumed.done()) resumed.set_result();
    }
    bool eof_received() override {
      (*log)("client eof");
      return false;
    }
    void connection_lost(std::exception_ptr exc) override {
      (*log)("client lost {}", exc_text(exc));
      lost.set_result();
    }
  };

  auto main_task = [&]() -> Coro<void> {
    std::vector<std::shared_ptr<Reader>> readers;
    simloop::ProtocolFactory factory = [&]() -> std::shared_ptr<simloop::BaseProtocol> {
      auto r = std::make_shared<Reader>();
      r->log = &log;
      readers.push_back(r);
      return r;
    };
    simloop::ProtocolServer server = co_await simloop::create_server(factory, "127.0.0.1", 0);
    auto writer_factory = [&] {
      auto w = std::make_shared<Writer>();
      w->log = &log;
      return w;
    };
    auto [transport, writer] = co_await simloop::create_connection(writer_factory, "127.0.0.1", server.port());
    log("default limits {}", limits_text(transport->get_write_buffer_limits()));
    transport->set_write_buffer_limits(4 * kChunk);
    log("high only {}", limits_text(transport->get_write_buffer_limits()));
    try {
      transport->set_write_buffer_limits(kLow, kHigh);
    } catch (const simloop::InvalidArgumentError&) {
      log("high < low: ValueError");
    }
    transport->set_write_buffer_limits(kHigh, kLow);
    log("limits {} buffered={}", limits_text(transport->get_write_buffer_limits()), transport->get_write_buffer_size());
    while (readers.empty()) co_await simloop::sleep(simloop::Duration{0});
    std::shared_ptr<Reader> reader = readers.at(0);

    std::size_t written = 0;
    const std::string chunk(kChunk, 'x');
    while (!writer->paused.done()) {
      if (written >= kCap) throw simloop::Error("never paused");
      transport->write(chunk);
      written += kChunk;
    }
    log("client paused buffered_above_high={} server_got_data={}", py(transport->get_write_buffer_size() > kHigh),
        py(reader->got_data));
    // Writing while paused only buffers more; pause_writing is not called again.
    transport->write(chunk);
    written += kChunk;
    co_await simloop::sleep(simloop::Duration{0});
    log("client still paused resumed={} pauses={}", py(writer->resumed.done()), writer->pauses);

    reader->transport->resume_reading();
    log("server resumes reading={}", py(reader->transport->is_reading()));
    co_await writer->resumed;
    log("client resumed buffered_at_most_low={} server_got_data={}", py(transport->get_write_buffer_size() <= kLow),
        py(reader->got_data));
    transport->write(std::string(kMore, 'y'));
    written += kMore;
    log("client wrote more pauses={}", writer->pauses);
    transport->write_eof();
    log("client wrote eof closing={}", py(transport->is_closing()));
    const std::size_t received = co_await reader->done;
    log("server received all={}", py(received == written));
    co_await writer->lost;
    log("client closing={} buffered={}", py(transport->is_closing()), transport->get_write_buffer_size());
    server.close();
    co_await server.wait_closed();
    log("done");
  };
  loop->run_until_complete(main_task());
}

namespace {

// One connection of streams_two_drain_callers: the server's handler waits
// for `go`, then reads up to EOF (kReadAll) or aborts its transport unread.
struct DrainConnection {
  enum Behaviour { kReadAll, kAbortUnread };
  Behaviour behaviour = kReadAll;
  simloop::Future<void> started = simloop::Future<void>::create(*simloop::EventLoop::running());
  simloop::Event go;
  std::optional<std::size_t> received;
};

constexpr std::size_t kDrainSize = 16 * 1024 * 1024;
constexpr std::size_t kDefaultHigh = 64 * 1024;

}  // namespace

SIMLOOP_CONFORMANCE(streams_two_drain_callers) {
  auto loop = simloop::fakes::make_sim_loop();
  log.attach(*loop);
  conformance::IterationCounter counter(*loop);
  int& iteration = counter.value;
  std::vector<std::shared_ptr<DrainConnection>> connections;
  std::size_t handled = 0;

  auto handler = [&](simloop::StreamReader reader, simloop::StreamWriter writer) -> Coro<void> {
    const std::size_t index = handled++;
    std::shared_ptr<DrainConnection> conn = connections.at(index);
    conn->started.set_result();
    log("handler {} start", index);
    co_await conn->go.wait();
    if (conn->behaviour == DrainConnection::kReadAll) {
      log("server reads");
      std::string data = co_await reader.read();
      conn->received = data.size();
      log("server got all={}", py(data.size() == 2 * kDrainSize));
      writer.close();
      co_await writer.wait_closed();
    } else {
      log("server aborts");
      writer.transport()->abort();
    }
    log("handler {} done", index);
  };

  using Woken = std::vector<std::pair<std::string, int>>;
  auto drainer = [&](std::string name, simloop::StreamWriter writer, DrainConnection* conn,
                     Woken* woken) -> Coro<void> {
    writer.write(std::string(kDrainSize, name[0]));
    log("{} wrote above_high={}", name, py(writer.transport()->get_write_buffer_size() > kDefaultHigh));
    std::exception_ptr error;
    try {
      co_await writer.drain();
    } catch (const std::exception&) {  // logged below
      error = std::current_exception();
    }
    woken->emplace_back(name, iteration);
    if (error) {
      log("{} drain raised {}", name, exc_type(error));
    } else {
      log("{} drained server_reading={} server_got_all={}", name, py(conn->go.is_set()),
          py(conn->received.has_value()));
    }
  };

  auto two_drainers = [&](int port, std::shared_ptr<DrainConnection> conn) -> Coro<simloop::StreamPair> {
    auto [reader, writer] = co_await simloop::open_connection("127.0.0.1", port);
    co_await conn->started;
    Woken woken;
    auto both = simloop::gather(drainer("a", writer, conn.get(), &woken), drainer("b", writer, conn.get(), &woken));
    co_await simloop::sleep(simloop::Duration{0});
    co_await simloop::sleep(simloop::Duration{0});
    log("both waiting woken={} paused_buffer_above_high={}", woken.size(),
        py(writer.transport()->get_write_buffer_size() > kDefaultHigh));
    conn->go.set();
    co_await both;
    log("woken first={} then={} same_iteration={}", woken.at(0).first, woken.at(1).first,
        py(woken.at(0).second == woken.at(1).second));
    co_return simloop::StreamPair(reader, writer);
  };

  auto main_task = [&]() -> Coro<void> {
    simloop::Server server = co_await simloop::start_server(handler, "127.0.0.1", 0);
    const int port = server.port();
    counter.start();

    auto conn = std::make_shared<DrainConnection>();
    connections.push_back(conn);
    {
      auto [reader, writer] = co_await two_drainers(port, conn);
      writer.write_eof();
      log("client wrote eof");
      co_await reader.read();
      writer.close();
      co_await writer.wait_closed();
      log("client closed server_got_all={}", py(conn->received == 2 * kDrainSize));
    }

    conn = std::make_shared<DrainConnection>();
    conn->behaviour = DrainConnection::kAbortUnread;
    connections.push_back(conn);
    auto [reader, writer] = co_await two_drainers(port, conn);
    log("client closing={} reader_error={}", py(writer.is_closing()), exc_type(reader.exception()));
    writer.close();
    std::exception_ptr error;
    try {
      co_await writer.wait_closed();
    } catch (const std::exception&) {
      error = std::current_exception();
    }
    if (error) log("client wait_closed raised {}", exc_type(error));
    error = nullptr;
    try {
      co_await writer.drain();
    } catch (const std::exception&) {
      error = std::current_exception();
    }
    if (error) log("client drain after loss raised {}", exc_type(error));

    server.close();
    co_await server.wait_closed();
    counter.stop();
    log("done");
  };
  loop->run_until_complete(main_task());
}
