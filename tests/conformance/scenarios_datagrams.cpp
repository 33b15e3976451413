// Conformance scenarios of datagram endpoints (create_datagram_endpoint),
// on the fake network under fifo.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <simloop/fakes/fakes.hpp>

#include "scenarios.hpp"

namespace {

using simloop::Address;
using simloop::Coro;

using conformance::py;

int port_of(const std::optional<std::string>& name) {
  return name ? std::stoi(name->substr(name->rfind(':') + 1)) : -1;
}

using conformance::exc_text;

using conformance::exc_type;

}  // namespace

SIMLOOP_CONFORMANCE(datagram_ping_pong) {
  auto loop = simloop::fakes::make_sim_loop();
  log.attach(*loop);
  conformance::IterationCounter counter(*loop);
  int& iteration = counter.value;

  struct Server final : simloop::DatagramProtocol {
    conformance::Log* log;
    int* it;
    simloop::DatagramTransport* transport = nullptr;
    void connection_made(simloop::BaseTransport& t) override {
      transport = static_cast<simloop::DatagramTransport*>(&t);
      (*log)("server made it={}", *it);
    }
    void datagram_received(std::string_view data, const Address& from) override {
      (*log)("server got {} it={}", data, *it);
      transport->sendto("pong" + std::string(data.substr(4)), from);
    }
    void connection_lost(std::exception_ptr exc) override { (*log)("server lost {} it={}", exc_text(exc), *it); }
  };
  struct Client final : simloop::DatagramProtocol {
    conformance::Log* log;
    int* it;
    std::string name;
    simloop::Queue<std::optional<std::string>> replies;
    simloop::Future<void> lost = simloop::Future<void>::create(*simloop::EventLoop::running());
    void connection_made(simloop::BaseTransport&) override { (*log)("{} made it={}", name, *it); }
    void datagram_received(std::string_view data, const Address&) override {
      (*log)("{} got {} it={}", name, data, *it);
      replies.put_nowait(std::string(data));
    }
    void error_received(std::exception_ptr exc) override {
      (*log)("{} error {} it={}", name, exc_type(exc), *it);
      replies.put_nowait(std::nullopt);
    }
    void connection_lost(std::exception_ptr exc) override {
      (*log)("{} lost {} it={}", name, exc_text(exc), *it);
      lost.set_result();
    }
  };
  auto client_factory = [&](std::string name) {
    return [&log, &iteration, name] {
      auto c = std::make_shared<Client>();
      c->log = &log;
      c->it = &iteration;
      c->name = name;
      return c;
    };
  };

  auto main_task = [&]() -> Coro<void> {
    counter.start();
    auto server_factory = [&] {
      auto s = std::make_shared<Server>();
      s->log = &log;
      s->it = &iteration;
      return s;
    };
    const std::optional<Address> server_addr = Address{"127.0.0.1", 0};
    auto [server_t, server_p] = co_await simloop::create_datagram_endpoint(server_factory, server_addr);
    const int port = port_of(server_t->get_extra_info("sockname"));
    log("server ready it={}", iteration);
    auto a_factory = client_factory("a");
    const std::optional<Address> to_server = Address{"127.0.0.1", port};
    auto [client_t, client_p] = co_await simloop::create_datagram_endpoint(a_factory, std::nullopt, to_server);
    log("a ready peer_is_server={} it={}", py(port_of(client_t->get_extra_info("peername")) == port), iteration);
    for (int i = 0; i < 3; ++i) {
      client_t->sendto(fmt::format("ping{}", i));
      log("a sent ping{} buffered={} it={}", i, client_t->get_write_buffer_size(), iteration);
      std::optional<std::string> reply = co_await client_p->replies.get();
      log("a reply {} it={}", reply.value_or("None"), iteration);
    }

    // A port nobody listens on any more.
    auto gone_factory = client_factory("gone");
    const std::optional<Address> any_port = Address{"127.0.0.1", 0};
    auto [gone_t, gone_p] = co_await simloop::create_datagram_endpoint(gone_factory, any_port);
    const int gone_port = port_of(gone_t->get_extra_info("sockname"));
    gone_t->close();
    co_await gone_p->lost;
    auto r_factory = client_factory("r");
    const std::optional<Address> to_gone = Address{"127.0.0.1", gone_port};
    auto [refused_t, refused_p] = co_await simloop::create_datagram_endpoint(r_factory, std::nullopt, to_gone);
    refused_t->sendto("anyone");
    log("r sent it={}", iteration);
    co_await refused_p->replies.get();
    log("r closing={} it={}", py(refused_t->is_closing()), iteration);

    refused_t->close();
    client_t->close();
    log("closing a={} it={}", py(client_t->is_closing()), iteration);
    co_await refused_p->lost;
    co_await client_p->lost;
    server_t->abort();
    co_await simloop::sleep(simloop::Duration{0});
    counter.stop();
    log("done");
  };
  loop->run_until_complete(main_task());
}
