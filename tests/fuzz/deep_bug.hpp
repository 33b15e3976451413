// A deep bug: one that a sampler reaches with tiny probability, behind a
// long sequence of scheduling decisions each of which moves the program to
// code it had not run before. The shape where coverage guidance pays
// (docs/fuzzing.md): every step towards the bug is new coverage, so the
// fuzzer keeps the input that took it and mutates from there.
//
// Three replicas elect a leader every round: each arms its candidacy timer
// for the same instant, and the one whose timer fires first leads the
// round (the tie is a scheduling choice). The membership tracker is a
// state machine over the history of leaders, and its bug sits at the end
// of one particular 12-round history: random reaches it with probability
// 3^-12 per run (about one in 530,000).
#pragma once

#include <array>
#include <stdexcept>
#include <vector>

#include <simloop/simloop.hpp>

namespace deep_bug {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Task;

inline constexpr int kRounds = 12;

// The history of leaders, one state per round matched so far; a leader
// out of turn starts it over. Each state is its own branch.
struct Membership {
  int stage = 0;
  bool corrupted = false;

  void advance(bool in_turn) { stage = in_turn ? stage + 1 : 0; }
  void on_leader(int replica) {
    switch (stage) {
      case 0: advance(replica == 0); break;
      case 1: advance(replica == 2); break;
      case 2: advance(replica == 1); break;
      case 3: advance(replica == 1); break;
      case 4: advance(replica == 0); break;
      case 5: advance(replica == 2); break;
      case 6: advance(replica == 2); break;
      case 7: advance(replica == 1); break;
      case 8: advance(replica == 0); break;
      case 9: advance(replica == 1); break;
      case 10: advance(replica == 2); break;
      case 11:
        // The bug: this history leaves the view with two leaders.
        if (replica == 0) corrupted = true;
        stage = 0;
        break;
    }
  }
};

struct Election {
  Membership membership;
  std::array<bool, kRounds> led{};
};

inline Coro<void> replica(Election* e, int id) {
  for (int round = 0; round < kRounds; ++round) {
    co_await simloop::sleep(10ms);
    if (!e->led[static_cast<std::size_t>(round)]) {
      e->led[static_cast<std::size_t>(round)] = true;
      e->membership.on_leader(id);
    }
  }
}

inline Coro<void> leader_history(simloop::sim::SimLoop& loop) {
  auto& e = loop.keep<Election>();
  std::vector<Task<void>> replicas;
  for (int id = 0; id < 3; ++id) replicas.push_back(loop.create_task(replica(&e, id)));
  for (Task<void>& r : replicas) co_await r;
  if (e.membership.corrupted) throw std::logic_error("two leaders in one view after the 12th round");
}

}  // namespace deep_bug
