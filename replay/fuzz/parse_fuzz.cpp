// libFuzzer target for the replay file parser: any input must either parse
// into a Trace that serializes back to exactly the same bytes, or raise
// ReplayFormatError with an offset inside the input. Nothing else (no crash,
// no other exception, no sanitizer report).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simloop/replay/format.hpp>
#include <simloop/replay/render.hpp>

namespace {

void check(std::string_view text) {
  try {
    const simloop::replay::Trace t = simloop::replay::parse(text, "fuzz-input");
    // The format is canonical: what parses is exactly what serialize writes.
    if (simloop::replay::serialize(t) != text) std::abort();
    // The renderers accept whatever the parser accepts.
    (void)simloop::replay::timeline(t, true);
    (void)simloop::replay::chrome_json(t);
    (void)simloop::replay::stats(t);
  } catch (const simloop::replay::ReplayFormatError& e) {
    if (e.offset() > text.size()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(text);
  // Mutated inputs almost never carry a right checksum; fix it up so the
  // fuzzer also reaches the parsing behind the checksum check.
  const std::size_t at = text.rfind("\nchecksum ");
  if (at != std::string_view::npos) {
    std::string sealed(text.substr(0, at + 1));
    char buf[32];
    std::snprintf(buf, sizeof buf, "checksum %016llx\n",
                  static_cast<unsigned long long>(simloop::replay::fnv1a(sealed)));
    sealed += buf;
    check(sealed);
  }
  return 0;
}
