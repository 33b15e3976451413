// simloop-trace: look at replay files.
//
//   simloop-trace show [--all] <file>      the text timeline
//   simloop-trace stats <file>             counts: choices by kind, steps, tasks
//   simloop-trace diff <a> <b>             the first divergence of two runs
//   simloop-trace convert <file> [-o out]  Chrome trace-event JSON (Perfetto)
//   simloop-trace validate <file>...       check files strictly
//
// Exit status: 0 success (diff: identical), 1 diff found a difference,
// 2 a bad file or bad usage (the message names the file, line and offset).
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <simloop/replay/format.hpp>
#include <simloop/replay/render.hpp>

namespace {

using namespace simloop::replay;

constexpr const char* kUsage =
    "usage: simloop-trace <command> ...\n"
    "  show [--all] <file>      print the timeline: a line per handle run (step, virtual time, task,\n"
    "                           what ran, where it then suspended, the non-zero choices made there;\n"
    "                           --all shows the natural (0) choices too)\n"
    "  stats <file>             print counts: choices by kind, non-zero choices, steps, tasks\n"
    "  diff <a> <b>             print the first divergent choice of two replay files\n"
    "                           (exit 0 when identical, 1 when they differ)\n"
    "  convert <file> [-o out]  write Chrome trace-event JSON (open it in Perfetto or chrome://tracing)\n"
    "  validate <file>...       check replay files strictly; print one line per file\n";

int usage(const std::string& problem) {
  std::cerr << "simloop-trace: " << problem << "\n" << kUsage;
  return 2;
}

int run(const std::vector<std::string>& args) {
  if (args.empty()) return usage("no command given");
  const std::string& cmd = args[0];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "show") {
    const bool all = args.size() == 3 && args[1] == "--all";
    if (args.size() != 2 && !all) return usage("show takes [--all] and exactly one file");
    std::cout << timeline(load_trace(args.back()), all);
    return 0;
  }
  if (cmd == "stats") {
    if (args.size() != 2) return usage("stats takes exactly one file");
    std::cout << stats(load_trace(args[1]));
    return 0;
  }
  if (cmd == "diff") {
    if (args.size() != 3) return usage("diff takes exactly two files");
    const Trace a = load_trace(args[1]);
    const Trace b = load_trace(args[2]);
    const TraceDiff d = diff(a, b, args[1], args[2]);
    std::cout << d.report;
    return d.identical ? 0 : 1;
  }
  if (cmd == "convert") {
    std::string out;
    std::string in;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "-o") {
        if (i + 1 >= args.size()) return usage("-o needs a file name");
        out = args[++i];
      } else if (in.empty()) {
        in = args[i];
      } else {
        return usage("convert takes one input file");
      }
    }
    if (in.empty()) return usage("convert needs an input file");
    const std::string json = chrome_json(load_trace(in));
    if (out.empty() || out == "-") {
      std::cout << json;
    } else {
      std::ofstream f(out, std::ios::binary | std::ios::trunc);
      f << json;
      f.flush();
      if (!f) {
        std::cerr << "simloop-trace: " << out << ": cannot write the JSON file\n";
        return 2;
      }
      std::cerr << "wrote " << out << " (open it at https://ui.perfetto.dev)\n";
    }
    return 0;
  }
  if (cmd == "validate") {
    if (args.size() < 2) return usage("validate needs at least one file");
    int status = 0;
    for (std::size_t i = 1; i < args.size(); ++i) {
      try {
        const Trace t = load_trace(args[i]);
        std::cout << "ok: " << args[i] << " (test " << t.test << ", seed " << t.seed << ", " << t.choices.size()
                  << " choices, " << t.nonzero_choices() << " non-zero, " << t.events.size() << " steps)\n";
      } catch (const ReplayFormatError& e) {
        std::cout << "bad: " << e.what() << "\n";
        status = 2;
      }
    }
    return status;
  }
  return usage("unknown command '" + cmd + "'");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return run(args);
  } catch (const ReplayFormatError& e) {
    std::cerr << "simloop-trace: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "simloop-trace: " << e.what() << "\n";
    return 2;
  }
}
