// Renderers (render.hpp). No loop headers here, like format.cpp.
#include <simloop/replay/render.hpp>

#include <algorithm>
#include <cstdio>
#include <map>

#include <simloop/replay/format.hpp>

namespace simloop::replay {

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  return out + "\"";
}

std::string choices_text(const Trace& t, std::uint64_t begin, std::uint64_t end, bool all = true) {
  std::string out;
  for (std::uint64_t i = begin; i < end && i < t.choices.size(); ++i) {
    if (!all && t.choices[i].value == 0) continue;
    if (!out.empty()) out += ", ";
    // Appended piece by piece (a chain of operator+ trips GCC 12's -Wrestrict false positive).
    out.push_back('#');
    out.append(std::to_string(i));
    out.push_back(' ');
    out.append(format_choice(t.choices[i]));
  }
  return out;
}

std::string task_label(const Event& e) { return e.task_id == 0 ? std::string("-") : e.task; }

// The event during which choice `i` was made, or null when the loop made it
// between handles.
const Event* event_of_choice(const Trace& t, std::uint64_t i) {
  auto it = std::partition_point(t.events.begin(), t.events.end(), [i](const Event& e) { return e.choice_end <= i; });
  if (it != t.events.end() && it->choice_begin <= i && i < it->choice_end) return &*it;
  return nullptr;
}

std::string describe_choice_at(const Trace& t, std::uint64_t i) {
  if (i >= t.choices.size()) return "(none: the run made only " + std::to_string(t.choices.size()) + " choices)";
  const Choice& c = t.choices[i];
  std::string out = format_choice(c) + " at step " + std::to_string(c.step);
  if (const Event* e = event_of_choice(t, i)) {
    out += ", while running " + e->what;
  } else {
    out += ", made by the loop between handles";
  }
  return out;
}

}  // namespace

std::string format_vtime(std::int64_t ns) {
  char buf[48];
  const bool neg = ns < 0;
  const auto u = neg ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  std::snprintf(buf, sizeof buf, "%s%llu.%09llus", neg ? "-" : "", static_cast<unsigned long long>(u / 1000000000u),
                static_cast<unsigned long long>(u % 1000000000u));
  return buf;
}

std::string format_choice(const Choice& c) {
  if (c.n == 0) return std::string(kind_name(c.kind)) + " " + std::to_string(c.value);
  return std::string(kind_name(c.kind)) + " " + std::to_string(c.value) + "/" + std::to_string(c.n);
}

std::string timeline(const Trace& t, bool all_choices) {
  std::string out;
  out += "test " + t.test + "  seed " + std::to_string(t.seed) + "  strategy " + t.strategy + "  fidelity " +
         t.fidelity + "  (simloop " + t.simloop_version + ")\n";
  if (!t.failure.empty()) out += "failure: " + t.failure + "\n";
  out += std::to_string(t.events.size()) + " handles run, " + std::to_string(t.choices.size()) + " choices (" +
         std::to_string(t.nonzero_choices()) + " non-zero" +
         (all_choices ? std::string(")\n\n") : std::string("; natural (0) choices not shown)\n\n"));
  out += "  step  virtual time    task          what ran  ->  where it then suspended   [choices made there]\n";
  std::uint64_t next_choice = 0;
  auto loop_choices = [&](std::uint64_t upto) {
    for (; next_choice < upto && next_choice < t.choices.size(); ++next_choice) {
      if (!all_choices && t.choices[next_choice].value == 0) continue;
      out += "                                      loop chose #" + std::to_string(next_choice) + " " +
             format_choice(t.choices[next_choice]) + "\n";
    }
  };
  // Injected cancels follow the step they happened in (or came after).
  std::size_t next_injection = 0;
  auto injections_upto = [&](std::uint64_t step) {
    for (; next_injection < t.injections.size() && t.injections[next_injection].step <= step; ++next_injection) {
      const InjectionRecord& c = t.injections[next_injection];
      out += "                                      injected cancel (" + c.kind + "): task '" + c.task + "' " +
             c.where + "\n";
    }
  };
  for (const Event& e : t.events) {
    loop_choices(e.choice_begin);
    injections_upto(e.step == 0 ? 0 : e.step - 1);
    char head[96];
    std::snprintf(head, sizeof head, "%6llu  %-14s  %-12s  ", static_cast<unsigned long long>(e.step),
                  format_vtime(e.vtime_ns).c_str(), task_label(e).c_str());
    out += head;
    out += e.what;
    if (!e.suspended.empty()) out += "  ->  " + e.suspended;
    const std::string made = choices_text(t, e.choice_begin, e.choice_end, all_choices);
    if (!made.empty()) out += "   [" + made + "]";
    out += "\n";
    injections_upto(e.step);
    next_choice = std::max(next_choice, e.choice_end);
  }
  loop_choices(t.choices.size());
  injections_upto(UINT64_MAX);
  return out;
}

std::string chrome_json(const Trace& t) {
  std::string out = "{\"displayTimeUnit\":\"ns\",\"otherData\":{";
  out += "\"test\":" + json_string(t.test) + ",\"seed\":" + json_string(std::to_string(t.seed)) +
         ",\"strategy\":" + json_string(t.strategy) + ",\"fidelity\":" + json_string(t.fidelity) +
         ",\"failure\":" + json_string(t.failure) + ",\"time_axis\":\"1 us per step\"},\n\"traceEvents\":[\n";
  bool first = true;
  auto emit = [&](const std::string& ev) {
    if (!first) out += ",\n";
    out += ev;
    first = false;
  };
  // Track names: tid 0 = the loop's own choices, 1 = plain callbacks, task id + 1 otherwise.
  constexpr std::uint64_t kLoopTid = 0, kCallbackTid = 1;
  emit(R"({"ph":"M","pid":1,"name":"process_name","args":{"name":)" + json_string("simloop " + t.test) + "}}");
  emit(R"({"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"loop choices"}})");
  emit(R"({"ph":"M","pid":1,"tid":1,"name":"thread_name","args":{"name":"callbacks"}})");
  std::map<std::uint64_t, std::string> tasks;
  for (const Event& e : t.events) {
    if (e.task_id != 0) tasks.emplace(e.task_id, e.task);
  }
  for (const auto& [id, name] : tasks) {
    emit(R"({"ph":"M","pid":1,"tid":)" + std::to_string(id + 1) + R"(,"name":"thread_name","args":{"name":)" +
         json_string(name) + "}}");
    emit(R"({"ph":"M","pid":1,"tid":)" + std::to_string(id + 1) +
         R"(,"name":"thread_sort_index","args":{"sort_index":)" + std::to_string(id + 1) + "}}");
  }
  std::uint64_t next_choice = 0;
  auto loop_choices = [&](std::uint64_t upto, std::uint64_t ts) {
    for (; next_choice < upto && next_choice < t.choices.size(); ++next_choice) {
      emit(R"({"ph":"i","s":"t","pid":1,"tid":)" + std::to_string(kLoopTid) + ",\"ts\":" + std::to_string(ts) +
           ",\"name\":" + json_string(format_choice(t.choices[next_choice])) +
           ",\"args\":{\"choice\":" + std::to_string(next_choice) + "}}");
    }
  };
  for (const Event& e : t.events) {
    loop_choices(e.choice_begin, e.step);
    const std::uint64_t tid = e.task_id == 0 ? kCallbackTid : e.task_id + 1;
    std::string ev = R"({"ph":"X","pid":1,"tid":)" + std::to_string(tid) + ",\"ts\":" + std::to_string(e.step) +
                     ",\"dur\":1,\"name\":" + json_string(e.what) + ",\"args\":{\"step\":" + std::to_string(e.step) +
                     ",\"vtime\":" + json_string(format_vtime(e.vtime_ns));
    if (!e.suspended.empty()) ev += ",\"suspended_at\":" + json_string(e.suspended);
    if (e.choice_end > e.choice_begin)
      ev += ",\"choices\":" + json_string(choices_text(t, e.choice_begin, e.choice_end));
    ev += "}}";
    emit(ev);
    next_choice = std::max(next_choice, e.choice_end);
  }
  const std::uint64_t last = t.events.empty() ? 0 : t.events.back().step + 1;
  loop_choices(t.choices.size(), last);
  out += "\n]}\n";
  return out;
}

std::string stats(const Trace& t) {
  std::string out;
  out += "test:        " + t.test + "\n";
  out += "seed:        " + std::to_string(t.seed) + "\n";
  out += "strategy:    " + t.strategy + "\n";
  out += "fidelity:    " + t.fidelity + "\n";
  out += "simloop:     " + t.simloop_version + "\n";
  out += "failure:     " + (t.failure.empty() ? std::string("(none: the run passed)") : t.failure) + "\n";
  out += "choices:     " + std::to_string(t.choices.size()) + " (" + std::to_string(t.nonzero_choices()) +
         " non-zero: the schedule's size)\n";
  std::uint64_t count[kKindCount] = {}, nonzero[kKindCount] = {};
  for (const Choice& c : t.choices) {
    if (c.kind < kKindCount) {
      ++count[c.kind];
      if (c.value != 0) ++nonzero[c.kind];
    }
  }
  for (int i = 0; i < kKindCount; ++i) {
    if (count[i] == 0) continue;
    char buf[96];
    std::snprintf(buf, sizeof buf, "  %-16s %8llu (%llu non-zero)\n", kind_name(static_cast<std::uint8_t>(i)),
                  static_cast<unsigned long long>(count[i]), static_cast<unsigned long long>(nonzero[i]));
    out += buf;
  }
  std::map<std::uint64_t, std::uint64_t> per_task;
  std::uint64_t callbacks = 0;
  for (const Event& e : t.events) {
    if (e.task_id == 0) {
      ++callbacks;
    } else {
      ++per_task[e.task_id];
    }
  }
  out += "steps:       " + std::to_string(t.events.size()) + " handles run (" + std::to_string(callbacks) +
         " plain callbacks, " + std::to_string(t.events.size() - callbacks) + " task steps in " +
         std::to_string(per_task.size()) + " tasks)\n";
  const std::int64_t end = t.events.empty() ? 0 : t.events.back().vtime_ns;
  out += "virtual time: " + format_vtime(end) + " at the last handle\n";
  out += "digests:     " + std::to_string(t.digests.size()) + "\n";
  return out;
}

TraceDiff diff(const Trace& a, const Trace& b, const std::string& name_a, const std::string& name_b) {
  TraceDiff d;
  auto header = [&](const char* field, const std::string& x, const std::string& y) {
    if (x != y) d.report += std::string(field) + " differs: " + quote(x) + " vs " + quote(y) + "\n";
  };
  header("test", a.test, b.test);
  header("strategy", a.strategy, b.strategy);
  header("fidelity", a.fidelity, b.fidelity);
  header("seed", std::to_string(a.seed), std::to_string(b.seed));
  header("failure", a.failure, b.failure);
  const std::size_t n = std::min(a.choices.size(), b.choices.size());
  std::size_t i = 0;
  while (i < n && a.choices[i] == b.choices[i]) ++i;
  if (i < n || a.choices.size() != b.choices.size()) {
    d.identical = false;
    d.report += "first divergent choice: #" + std::to_string(i) + "\n  " + name_a + ": " + describe_choice_at(a, i) +
                "\n  " + name_b + ": " + describe_choice_at(b, i) + "\n";
  } else {
    const std::size_t m = std::min(a.digests.size(), b.digests.size());
    std::size_t j = 0;
    while (j < m && a.digests[j] == b.digests[j]) ++j;
    if (j < m || a.digests.size() != b.digests.size()) {
      d.identical = false;
      auto dig = [](const Trace& t, std::size_t k) {
        if (k >= t.digests.size()) return std::string("(no digest)");
        char buf[96];
        std::snprintf(buf, sizeof buf, "step %llu, virtual time %s, hash %016llx",
                      static_cast<unsigned long long>(t.digests[k].step), format_vtime(t.digests[k].vtime_ns).c_str(),
                      static_cast<unsigned long long>(t.digests[k].hash));
        return std::string(buf);
      };
      d.report += "same " + std::to_string(a.choices.size()) + " choices, but digest #" + std::to_string(j) +
                  " differs (loop state diverged without a different choice: nondeterminism in the code?)\n  " +
                  name_a + ": " + dig(a, j) + "\n  " + name_b + ": " + dig(b, j) + "\n";
    }
  }
  if (!d.report.empty() && d.identical) {
    d.identical = false;  // headers differ, schedule identical
    d.report += "the schedules (choices and digests) are identical\n";
  }
  if (d.report.empty()) d.report = "identical schedules: " + std::to_string(a.choices.size()) + " choices\n";
  return d;
}

}  // namespace simloop::replay
