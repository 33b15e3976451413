// The replay file format (docs/replay-format.md describes it for readers).
//
// Contract:
//  - serialize() writes a Trace as UTF-8 text, one record per line, '\n'
//    line ends, ending with a checksum line over every byte before it.
//  - parse() accepts exactly what serialize() writes and nothing else. Any
//    other input — not a replay file, another format version, truncated,
//    corrupted (checksum), malformed lines, out-of-range values, absurd
//    counts — raises ReplayFormatError naming the file, the line, the byte
//    offset and the problem. It never crashes and never returns a Trace that
//    differs from the one that was written.
//  - parse(serialize(t)) == t for every Trace t.
//  - No dependency on the loop's headers (the fuzz target builds this alone).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <simloop/replay/trace.hpp>

namespace simloop::replay {

inline constexpr std::string_view kMagic = "simloop-replay";
// Files larger than this are refused before being read.
inline constexpr std::uint64_t kMaxFileBytes = 1ull << 30;

class ReplayFormatError : public std::runtime_error {
 public:
  ReplayFormatError(std::string file, std::size_t line, std::size_t offset, const std::string& problem);
  const std::string& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }  // 1-based; 0 = the file as a whole
  std::size_t offset() const noexcept { return offset_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string file_;
  std::size_t line_;
  std::size_t offset_;
  std::string problem_;
};

std::string serialize(const Trace& trace);
// `file` names the input in error messages.
Trace parse(std::string_view text, const std::string& file);

// Reads and parses a file (ReplayFormatError also when it cannot be read).
Trace load_trace(const std::string& path);
// Writes atomically (a temporary file renamed into place); creates the
// directory if needed. Raises std::runtime_error naming the path on failure.
void save_trace(const Trace& trace, const std::string& path);

// Quoted-string escaping used by the format (exposed for the tools and tests).
std::string quote(std::string_view s);

}  // namespace simloop::replay
