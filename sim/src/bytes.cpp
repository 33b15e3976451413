#include <simloop/sim/bytes.hpp>

#include <cmath>

#include <fmt/format.h>

namespace simloop::sim {

unsigned choice_width(std::uint64_t m) noexcept {
  if (m <= (1ull << 8)) return 1;
  if (m <= (1ull << 16)) return 2;
  if (m <= (1ull << 32)) return 4;
  return 8;
}

unsigned gate_threshold(double p) noexcept {
  if (!(p > 0.0)) return 256;
  if (p >= 1.0) return 0;
  return 256u - static_cast<unsigned>(std::ceil(256.0 * p));
}

namespace {

bool is_rare(ChoiceKind kind) noexcept {
  return kind == ChoiceKind::CallbackCost || kind == ChoiceKind::ExternalDelay || kind == ChoiceKind::Cancel;
}

unsigned gate_of(ChoiceKind kind, const SimOptions& o) noexcept {
  switch (kind) {
    case ChoiceKind::CallbackCost: return gate_threshold(o.busy_probability);
    case ChoiceKind::ExternalDelay: return gate_threshold(o.external_delay_probability);
    case ChoiceKind::Cancel: return gate_threshold(o.cancel_probability);
    default: return 0;
  }
}

void append(std::vector<std::uint8_t>& out, std::uint64_t value, unsigned width) {
  for (unsigned i = 0; i < width; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

}  // namespace

BytesStrategy::BytesStrategy(std::vector<std::uint8_t> input, SimOptions options)
    : SimScheduler(options),
      input_(std::move(input)),
      busy_gate_(gate_threshold(options.busy_probability)),
      delay_gate_(gate_threshold(options.external_delay_probability)),
      cancel_gate_(gate_threshold(options.cancel_probability)) {}

std::uint64_t BytesStrategy::read(unsigned width) noexcept {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < width; ++i, ++position_) {
    if (position_ < input_.size()) v |= std::uint64_t{input_[position_]} << (8 * i);
  }
  return v;
}

std::uint64_t BytesStrategy::draw(ChoiceKind kind, std::uint64_t n) {
  if (is_rare(kind)) {
    const unsigned gate = kind == ChoiceKind::CallbackCost    ? busy_gate_
                          : kind == ChoiceKind::ExternalDelay ? delay_gate_
                                                              : cancel_gate_;
    if (read(1) < gate) return 0;
    if (n == 2) return 1;
    return 1 + read(choice_width(n - 1)) % (n - 1);
  }
  return read(choice_width(n)) % n;
}

std::vector<std::uint8_t> encode_choices(std::span<const Choice> choices, const SimOptions& options) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    if (c.n < 2) continue;  // never asked of a strategy
    if (c.value >= c.n) {
      throw Error(fmt::format("encode_choices: choice #{} {} is out of its range", i, to_string(c)));
    }
    if (!is_rare(c.kind)) {
      append(out, c.value, choice_width(c.n));
      continue;
    }
    if (c.value == 0) {
      out.push_back(0);
      continue;
    }
    if (gate_of(c.kind, options) > 255) {
      throw Error(fmt::format(
          "encode_choices: choice #{} {} is not natural, but its probability is 0 in these options, so no byte "
          "decodes to it",
          i, to_string(c)));
    }
    out.push_back(255);
    if (c.n > 2) append(out, c.value - 1, choice_width(c.n - 1));
  }
  while (!out.empty() && out.back() == 0) out.pop_back();
  return out;
}

}  // namespace simloop::sim
