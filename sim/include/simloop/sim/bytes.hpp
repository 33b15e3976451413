// bytes: the choice stream read from a byte buffer (a fuzzer's input).
//
// Contract (the decoding is stable: a saved input means the same run in
// every later version that keeps the program's choices):
//  - Every choice choose(kind, n) with n >= 2 (pick: n candidates) consumes
//    bytes from the front of the buffer. width(m), the bytes that hold a
//    value below m: 1 for m <= 2^8, 2 for m <= 2^16, 4 for m <= 2^32, else 8.
//    read(w) takes the next w bytes as a little-endian number; a byte past
//    the end reads as 0. So an exhausted buffer answers 0 everywhere: the
//    empty input is asyncio's own order, and a short input stays near it.
//  - The rare kinds, whose non-natural answer is rare on a real loop
//    (CallbackCost, ExternalDelay, Cancel, with probability p =
//    busy_probability, external_delay_probability, cancel_probability of
//    SimOptions): a gate byte g = read(1) answers 0 unless
//    g >= 256 - ceil(256 p) (never when p = 0); past the gate, n == 2 answers
//    1 and larger n answer 1 + read(width(n - 1)) mod (n - 1). Random bytes
//    therefore cancel, delay and charge as often as random does.
//  - Every other kind answers read(width(n)) mod n.
//  - Nothing else of SimScheduler changes: injection is capped by
//    max_injected_cancels and skips spared tasks, buggify's sites answer
//    through Buggify choices, observers see every choice.
//  - encode_choices(choices, options) is the inverse: the shortest buffer
//    (trailing zero bytes dropped) that makes a program asking the same
//    (kind, n) sequence take the same values; a seed corpus is built from
//    recorded runs this way. A rare kind's non-zero value needs p > 0 (else
//    no byte decodes to it): Error names the choice.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <simloop/sim/strategy.hpp>

namespace simloop::sim {

class BytesStrategy final : public SimScheduler {
 public:
  BytesStrategy(std::vector<std::uint8_t> input, SimOptions options = {});
  Strategy strategy() const noexcept override { return Strategy::Bytes; }
  // Bytes consumed so far (may pass size(): those read as 0).
  std::size_t consumed() const noexcept { return position_; }
  std::size_t size() const noexcept { return input_.size(); }

 protected:
  std::uint64_t draw(ChoiceKind kind, std::uint64_t n) override;

 private:
  std::uint64_t read(unsigned width) noexcept;
  std::vector<std::uint8_t> input_;
  std::size_t position_ = 0;
  // Gate thresholds of the rare kinds: a gate byte at or above it is non-zero.
  unsigned busy_gate_;
  unsigned delay_gate_;
  unsigned cancel_gate_;
};

// The bytes of width(m) (see the file header).
unsigned choice_width(std::uint64_t m) noexcept;
// The lowest gate byte that decodes to a non-zero answer at probability p
// (256: none).
unsigned gate_threshold(double p) noexcept;

std::vector<std::uint8_t> encode_choices(std::span<const Choice> choices, const SimOptions& options);

}  // namespace simloop::sim
