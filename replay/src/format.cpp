// The replay file format: writer and strict parser (see format.hpp and
// docs/replay-format.md). This translation unit must not include the loop's
// headers: the fuzz target compiles it with a compiler whose standard library
// lacks std::source_location.
#include <simloop/replay/format.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

namespace simloop::replay {

namespace {

constexpr std::array<const char*, kKindCount> kKindNames = {
    "ready_order", "callback_cost", "timer_tie", "external_order", "external_delay", "test",
    "buggify",     "cancel",        "io",        "executor",       "cancel_victim",
};

// More elements than this in one section is refused as absurd, whatever the
// file size says (a corrupted count must not make the reader allocate).
constexpr std::uint64_t kMaxCount = 1ull << 26;

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Shows a piece of input in an error message, escaped and shortened.
std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out = quote(s.substr(0, kMax));
  if (s.size() > kMax) out += "...";
  return out;
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  Trace run() {
    Trace t;
    if (text_.empty()) fail_at(0, "the file is empty: not a simloop replay file");
    // The magic comes first so that a foreign file is called one, not "malformed".
    if (text_.substr(0, kMagic.size() + 1) != std::string(kMagic) + " ") {
      fail_at(0, "not a simloop replay file (it must start with '" + std::string(kMagic) + " <version>')");
    }
    next_line();
    expect_word(kMagic);
    const std::uint64_t version = read_uint("format version");
    version_ = version;
    t.format_version = static_cast<std::uint32_t>(version);
    if (version != kFormatVersion && version != 1) {
      fail("format version " + std::to_string(version) + " is not supported (this simloop reads versions 1 to " +
           std::to_string(kFormatVersion) + ")");
    }
    end_of_line();

    t.simloop_version = keyed_string("simloop-version");
    t.test = keyed_string("test");
    t.strategy = keyed_string("strategy");
    t.fidelity = keyed_string("fidelity");
    t.options = keyed_string("options");
    next_line();
    expect_word("seed");
    t.seed = read_uint("seed");
    end_of_line();
    t.failure = keyed_string("failure");

    const std::uint64_t nchoices = section_count("choices");
    t.choices.reserve(nchoices);
    for (std::uint64_t i = 0; i < nchoices; ++i) {
      next_line_in_section("choices", nchoices, i);
      expect_word("c");
      Choice c;
      c.step = read_uint("step");
      const std::size_t kind_at = pos_;
      std::string_view kind = read_word("choice kind");
      auto k = kind_from_name(kind);
      if (!k) fail_at(line_start_ + kind_at, "unknown choice kind " + excerpt(kind));
      c.kind = *k;
      c.n = read_uint("range");
      c.value = read_uint("value");
      if (c.n != 0 && c.value >= c.n) {
        fail("choice value " + std::to_string(c.value) + " is outside its range [0, " + std::to_string(c.n) + ")");
      }
      if (!t.choices.empty() && c.step < t.choices.back().step) fail("choice steps go backwards");
      end_of_line();
      t.choices.push_back(c);
    }

    const std::uint64_t ndigests = section_count("digests");
    t.digests.reserve(ndigests);
    for (std::uint64_t i = 0; i < ndigests; ++i) {
      next_line_in_section("digests", ndigests, i);
      expect_word("d");
      Digest d;
      d.step = read_uint("step");
      d.vtime_ns = read_time();
      d.hash = read_hex64("digest");
      if (!t.digests.empty() && d.step < t.digests.back().step) fail("digest steps go backwards");
      end_of_line();
      t.digests.push_back(d);
    }

    const std::uint64_t nevents = section_count("events");
    t.events.reserve(nevents);
    for (std::uint64_t i = 0; i < nevents; ++i) {
      next_line_in_section("events", nevents, i);
      expect_word("e");
      Event e;
      e.step = read_uint("step");
      e.vtime_ns = read_time();
      e.task_id = read_uint("task id");
      e.task = read_string("task name");
      e.what = read_string("what ran");
      e.suspended = read_string("suspension point");
      e.choice_begin = read_uint("first choice");
      e.choice_end = read_uint("end choice");
      if (e.choice_begin > e.choice_end || e.choice_end > t.choices.size()) {
        fail("event choice range [" + std::to_string(e.choice_begin) + ", " + std::to_string(e.choice_end) +
             ") does not fit the " + std::to_string(t.choices.size()) + " choices");
      }
      if (!t.events.empty() && e.step <= t.events.back().step) fail("event steps must increase");
      end_of_line();
      t.events.push_back(std::move(e));
    }

    if (version_ >= 2) {
      const std::uint64_t ninjections = section_count("injections");
      t.injections.reserve(ninjections);
      for (std::uint64_t i = 0; i < ninjections; ++i) {
        next_line_in_section("injections", ninjections, i);
        expect_word("i");
        InjectionRecord c;
        c.step = read_uint("step");
        c.vtime_ns = read_time();
        c.kind = read_string("injection kind");
        c.task_id = read_uint("task id");
        c.task = read_string("task name");
        c.where = read_string("where");
        if (!t.injections.empty() && c.step < t.injections.back().step) fail("injection steps go backwards");
        end_of_line();
        t.injections.push_back(std::move(c));
      }
    }

    // The checksum covers every byte before its own line.
    const std::size_t checksum_line_start = next_;
    if (next_ >= text_.size()) {
      fail_at(text_.size(), "the file is truncated: it ends before its checksum line");
    }
    next_line();
    expect_word("checksum");
    const std::uint64_t written = read_hex64("checksum");
    end_of_line();
    if (next_ != text_.size()) {
      fail_at(next_, "unexpected data after the checksum line (" + std::to_string(text_.size() - next_) + " bytes)");
    }
    const std::uint64_t actual = fnv1a(text_.substr(0, checksum_line_start));
    if (actual != written) {
      fail_at(checksum_line_start, "the file is corrupted: checksum " + hex16(written) +
                                       " does not match its content (which hashes to " + hex16(actual) + ")");
    }
    return t;
  }

 private:
  [[noreturn]] void fail_at(std::size_t offset, const std::string& problem) const {
    // The line holding `offset` (1-based), counted on demand: errors are rare.
    std::size_t line =
        1 + static_cast<std::size_t>(std::count(text_.begin(), text_.begin() + std::min(offset, text_.size()), '\n'));
    throw ReplayFormatError(file_, line, offset, problem);
  }
  [[noreturn]] void fail(const std::string& problem) const { fail_at(line_start_ + pos_, problem); }

  // Moves to the next line; it must end with '\n' (else the file is truncated).
  void next_line() {
    if (next_ >= text_.size())
      fail_at(text_.size(), "the file is truncated: it ends at line " + std::to_string(lineno_));
    line_start_ = next_;
    const std::size_t nl = text_.find('\n', next_);
    if (nl == std::string_view::npos) {
      fail_at(text_.size(), "the file is truncated: its last line has no line end");
    }
    line_ = text_.substr(line_start_, nl - line_start_);
    next_ = nl + 1;
    pos_ = 0;
    ++lineno_;
    const std::size_t cr = line_.find('\r');
    if (cr != std::string_view::npos) {
      fail_at(line_start_ + cr, "carriage return in the file (was it converted to CRLF line ends?)");
    }
  }

  void next_line_in_section(const char* section, std::uint64_t count, std::uint64_t i) {
    if (next_ >= text_.size()) {
      fail_at(text_.size(), std::string("the file is truncated: section '") + section + "' announces " +
                                std::to_string(count) + " lines but the file ends after " + std::to_string(i));
    }
    next_line();
  }

  bool at_end() const { return pos_ >= line_.size(); }

  // Fields are separated by exactly one space.
  void separator(const char* what) {
    if (pos_ == 0) return;
    if (at_end()) fail(std::string("missing ") + what + " at the end of the line");
    if (line_[pos_] != ' ') fail(std::string("expected a space before ") + what);
    ++pos_;
    if (at_end() || line_[pos_] == ' ') fail(std::string("missing ") + what);
  }

  std::string_view read_word(const char* what) {
    separator(what);
    const std::size_t start = pos_;
    while (!at_end() && line_[pos_] != ' ') ++pos_;
    if (pos_ == start) fail(std::string("missing ") + what);
    return line_.substr(start, pos_ - start);
  }

  void expect_word(std::string_view word) {
    const std::size_t start = pos_;
    std::string_view got = read_word("keyword");
    if (got != word) {
      fail_at(line_start_ + start, "expected '" + std::string(word) + "' but found " + excerpt(got));
    }
  }

  std::uint64_t read_uint(const char* what) {
    const std::size_t start = pos_ == 0 ? 0 : pos_ + 1;
    std::string_view w = read_word(what);
    if (w.size() > 1 && w[0] == '0') fail_at(line_start_ + start, std::string(what) + " has a leading zero");
    std::uint64_t v = 0;
    for (char ch : w) {
      if (ch < '0' || ch > '9') {
        fail_at(line_start_ + start, std::string(what) + " is not a decimal number: " + excerpt(w));
      }
      const std::uint64_t d = static_cast<std::uint64_t>(ch - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
        fail_at(line_start_ + start, std::string(what) + " does not fit in 64 bits: " + excerpt(w));
      }
      v = v * 10 + d;
    }
    return v;
  }

  std::int64_t read_time() {
    const std::size_t at = pos_;
    std::uint64_t v = read_uint("virtual time");
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail_at(line_start_ + at + 1, "virtual time does not fit in signed 64 bits");
    }
    return static_cast<std::int64_t>(v);
  }

  std::uint64_t read_hex64(const char* what) {
    const std::size_t start = pos_ + 1;
    std::string_view w = read_word(what);
    if (w.size() != 16) fail_at(line_start_ + start, std::string(what) + " must be 16 lowercase hex digits");
    std::uint64_t v = 0;
    for (char ch : w) {
      unsigned d;
      if (ch >= '0' && ch <= '9') {
        d = static_cast<unsigned>(ch - '0');
      } else if (ch >= 'a' && ch <= 'f') {
        d = static_cast<unsigned>(ch - 'a' + 10);
      } else {
        fail_at(line_start_ + start, std::string(what) + " must be 16 lowercase hex digits: " + excerpt(w));
      }
      v = (v << 4) | d;
    }
    return v;
  }

  static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
  }

  std::string read_string(const char* what) {
    separator(what);
    if (line_[pos_] != '"') fail(std::string(what) + " must be a quoted string");
    ++pos_;
    std::string out;
    for (;;) {
      if (at_end()) fail(std::string(what) + ": unterminated string");
      const char ch = line_[pos_];
      if (ch == '"') {
        ++pos_;
        break;
      }
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
        fail(std::string(what) + ": raw control byte in a string");
      if (ch != '\\') {
        out.push_back(ch);
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= line_.size()) fail(std::string(what) + ": unterminated escape");
      const char e = line_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case '\\': out.push_back('\\'); break;
        case '"': out.push_back('"'); break;
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'x': {
          if (pos_ + 2 > line_.size()) fail(std::string(what) + ": \\x needs two hex digits");
          const int hi = hex_digit(line_[pos_]);
          const int lo = hex_digit(line_[pos_ + 1]);
          if (hi < 0 || lo < 0) fail(std::string(what) + ": \\x needs two lowercase hex digits");
          // Canonical form: \xHH only for the control bytes that have no
          // named escape; every other byte is written as itself.
          const int byte = hi * 16 + lo;
          if (!((byte < 0x20 || byte == 0x7f) && byte != '\n' && byte != '\t' && byte != '\r')) {
            fail(std::string(what) +
                 ": \\x is only for control bytes without a named escape; write this byte as itself");
          }
          out.push_back(static_cast<char>(byte));
          pos_ += 2;
          break;
        }
        default: fail_at(line_start_ + pos_ - 1, std::string(what) + ": unknown escape \\" + std::string(1, e));
      }
    }
    return out;
  }

  void end_of_line() {
    if (!at_end()) fail("unexpected text at the end of the line: " + excerpt(line_.substr(pos_)));
  }

  std::string keyed_string(const char* key) {
    next_line();
    expect_word(key);
    std::string s = read_string(key);
    end_of_line();
    return s;
  }

  std::uint64_t section_count(const char* section) {
    next_line();
    expect_word(section);
    const std::size_t at = line_start_ + pos_ + 1;
    const std::uint64_t n = read_uint("count");
    end_of_line();
    if (n > kMaxCount) {
      fail_at(at, std::string("absurd ") + section + " count " + std::to_string(n) + " (at most " +
                      std::to_string(kMaxCount) + ")");
    }
    // Each element is one line: a count beyond the lines left is a lie.
    const auto left =
        static_cast<std::uint64_t>(std::count(text_.begin() + static_cast<std::ptrdiff_t>(next_), text_.end(), '\n'));
    if (n > left) {
      fail_at(at, std::string("the file is truncated or corrupted: section '") + section + "' announces " +
                      std::to_string(n) + " lines but only " + std::to_string(left) + " lines follow");
    }
    return n;
  }

  std::string_view text_;
  std::uint64_t version_ = kFormatVersion;
  const std::string& file_;
  std::string_view line_;
  std::size_t line_start_ = 0;  // offset of line_ in text_
  std::size_t next_ = 0;        // offset of the next line
  std::size_t pos_ = 0;         // position in line_
  std::size_t lineno_ = 0;
};

}  // namespace

const char* kind_name(std::uint8_t kind) noexcept { return kind < kKindCount ? kKindNames[kind] : "unknown"; }

std::optional<std::uint8_t> kind_from_name(std::string_view name) noexcept {
  for (int i = 0; i < kKindCount; ++i) {
    if (name == kKindNames[static_cast<std::size_t>(i)]) return static_cast<std::uint8_t>(i);
  }
  return std::nullopt;
}

std::size_t Trace::nonzero_choices() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(choices.begin(), choices.end(), [](const Choice& c) { return c.value != 0; }));
}

namespace {
// "<file>:<line>: (byte offset N) <problem>", appended piece by piece (a
// chain of operator+ trips GCC 12's -Wrestrict false positive).
std::string format_error(const std::string& file, std::size_t line, std::size_t offset, const std::string& problem) {
  std::string out = file;
  if (line > 0) {
    out.push_back(':');
    out.append(std::to_string(line));
  }
  out.append(": (byte offset ");
  out.append(std::to_string(offset));
  out.append(") ");
  out.append(problem);
  return out;
}
}  // namespace

ReplayFormatError::ReplayFormatError(std::string file, std::size_t line, std::size_t offset, const std::string& problem)
    : std::runtime_error(format_error(file, line, offset, problem)),
      file_(std::move(file)),
      line_(line),
      offset_(offset),
      problem_(problem) {}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string serialize(const Trace& t) {
  std::string out;
  out.reserve(256 + t.choices.size() * 24 + t.digests.size() * 40 + t.events.size() * 120);
  auto line = [&out](std::initializer_list<std::string_view> fields) {
    bool first = true;
    for (std::string_view f : fields) {
      if (!first) out.push_back(' ');
      out.append(f);
      first = false;
    }
    out.push_back('\n');
  };
  using std::to_string;
  const std::uint32_t version = t.format_version == 1 && t.injections.empty() ? 1 : kFormatVersion;
  line({kMagic, to_string(version)});
  line({"simloop-version", quote(t.simloop_version)});
  line({"test", quote(t.test)});
  line({"strategy", quote(t.strategy)});
  line({"fidelity", quote(t.fidelity)});
  line({"options", quote(t.options)});
  line({"seed", to_string(t.seed)});
  line({"failure", quote(t.failure)});
  line({"choices", to_string(t.choices.size())});
  for (const Choice& c : t.choices)
    line({"c", to_string(c.step), kind_name(c.kind), to_string(c.n), to_string(c.value)});
  line({"digests", to_string(t.digests.size())});
  for (const Digest& d : t.digests) line({"d", to_string(d.step), to_string(d.vtime_ns), hex16(d.hash)});
  line({"events", to_string(t.events.size())});
  for (const Event& e : t.events) {
    line({"e", to_string(e.step), to_string(e.vtime_ns), to_string(e.task_id), quote(e.task), quote(e.what),
          quote(e.suspended), to_string(e.choice_begin), to_string(e.choice_end)});
  }
  if (version >= 2) {
    line({"injections", to_string(t.injections.size())});
    for (const InjectionRecord& c : t.injections) {
      line({"i", to_string(c.step), to_string(c.vtime_ns), quote(c.kind), to_string(c.task_id), quote(c.task),
            quote(c.where)});
    }
  }
  line({"checksum", hex16(fnv1a(out))});
  return out;
}

Trace parse(std::string_view text, const std::string& file) { return Parser(text, file).run(); }

Trace load_trace(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ReplayFormatError(path, 0, 0,
                            ec ? "cannot read the file: " + ec.message() : "no such file (or not a regular file)");
  }
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw ReplayFormatError(path, 0, 0, "cannot read the file: " + ec.message());
  if (size > kMaxFileBytes) {
    throw ReplayFormatError(path, 0, 0,
                            "absurd size: " + std::to_string(size) + " bytes (a replay file holds at most " +
                                std::to_string(kMaxFileBytes) + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ReplayFormatError(path, 0, 0, std::string("cannot open the file: ") + std::strerror(errno));
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    throw ReplayFormatError(path, 0, static_cast<std::size_t>(in.gcount()), "the file shrank while being read");
  }
  return parse(text, path);
}

void save_trace(const Trace& trace, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) throw std::runtime_error(path + ": cannot create its directory: " + ec.message());
  }
  const std::string text = serialize(trace);
  // Every file written is one the parser accepts: a trace that would not
  // read back is refused here, naming the problem, instead of being kept.
  try {
    (void)parse(text, path);
  } catch (const ReplayFormatError& e) {
    throw std::runtime_error(path + ": not written, the trace would not read back: " + e.problem());
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp + ": cannot open for writing: " + std::strerror(errno));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) throw std::runtime_error(tmp + ": write failed");
  }
  fs::rename(tmp, p, ec);
  if (ec) throw std::runtime_error(path + ": cannot rename the temporary file into place: " + ec.message());
}

}  // namespace simloop::replay
