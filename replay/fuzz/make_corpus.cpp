// Writes a few valid replay files into a directory: the fuzzer's seeds.
#include <string>

#include <simloop/replay/format.hpp>

int main(int argc, char** argv) {
  using namespace simloop::replay;
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  Trace empty;
  save_trace(empty, dir + "/empty.simloop-replay");
  Trace t;
  t.simloop_version = "0.1.0";
  t.test = "Suite.Name";
  t.strategy = "random";
  t.fidelity = "chaos";
  t.options = "max_steps=100";
  t.seed = 7;
  t.failure = "assertion failed: \"x\"\n\tdetail";
  for (std::uint64_t i = 0; i < 6; ++i) {
    t.choices.push_back(
        Choice{i % 2 == 0 ? std::uint64_t{3} : std::uint64_t{0}, i % 3, i, static_cast<std::uint8_t>(i % kKindCount)});
  }
  t.digests = {Digest{2, 0, 0x1234}, Digest{5, 1000, 0xffffffffffffffffull}};
  t.events = {Event{1, 0, 1, "main", "step of main", "a.cpp:1 in f", 0, 2},
              Event{2, 0, 0, "", "callback at b.cpp:2", "", 2, 3},
              Event{5, 1000, 2, "Task-2", "step of Task-2 (resumed at c.cpp:3 in g)", "done", 3, 6}};
  save_trace(t, dir + "/full.simloop-replay");
  return 0;
}
