#include "gateway/link/fec.h"

#include <isa-l/erasure_code.h>

#include <algorithm>

#include "gateway/common/assert.h"

namespace cg::link {

const Fec::Tables& Fec::tables(int k, int m) {
  const auto key = std::make_pair(k, m);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  if (cache_.size() >= cached_max) cache_.clear();
  Tables t;
  t.matrix.resize(static_cast<std::size_t>((k + m) * k));
  gf_gen_cauchy1_matrix(t.matrix.data(), k + m, k);
  t.parity.resize(static_cast<std::size_t>(k * m * 32));
  if (m > 0) ec_init_tables(k, m, t.matrix.data() + k * k, t.parity.data());
  return cache_.emplace(key, std::move(t)).first->second;
}

void Fec::encode(int k, int m, std::size_t len, std::span<std::uint8_t> fragments) {
  CG_ASSERT(k >= 1 && m >= 0 && k + m <= 255);
  CG_ASSERT(fragments.size() >= static_cast<std::size_t>(k + m) * len);
  if (m == 0 || len == 0) return;
  const Tables& t = tables(k, m);
  sources_.resize(static_cast<std::size_t>(k));
  outputs_.resize(static_cast<std::size_t>(m));
  for (int i = 0; i < k; ++i) sources_[i] = fragments.data() + i * len;
  for (int i = 0; i < m; ++i) outputs_[i] = fragments.data() + (k + i) * len;
  ec_encode_data(static_cast<int>(len), k, m, const_cast<std::uint8_t*>(t.parity.data()),
                 sources_.data(), outputs_.data());
}

bool Fec::decode(int k, int m, std::size_t len, std::span<std::uint8_t> fragments,
                 std::span<const std::uint8_t> present) {
  CG_ASSERT(k >= 1 && m >= 0 && k + m <= 255);
  CG_ASSERT(present.size() >= static_cast<std::size_t>(k + m));
  CG_ASSERT(fragments.size() >= static_cast<std::size_t>(k + m) * len);
  int missing = 0;
  for (int i = 0; i < k; ++i) missing += present[i] ? 0 : 1;
  if (missing == 0) return true;
  // Pick the first k fragments that arrived; their rows of the encoding matrix form an
  // invertible k × k matrix (every square submatrix of a Cauchy matrix is invertible).
  const Tables& t = tables(k, m);
  const auto uk = static_cast<std::size_t>(k);
  sub_.resize(uk * uk);
  inverse_.resize(uk * uk);
  sources_.clear();
  for (int i = 0; i < k + m && sources_.size() < uk; ++i) {
    if (!present[i]) continue;
    std::copy_n(t.matrix.data() + i * k, k, sub_.data() + sources_.size() * uk);
    sources_.push_back(fragments.data() + i * len);
  }
  if (sources_.size() < uk) return false;
  CG_ASSERT(gf_invert_matrix(sub_.data(), inverse_.data(), k) == 0);
  // Row i of the inverse rebuilds data fragment i from the chosen sources.
  rows_.clear();
  outputs_.clear();
  for (int i = 0; i < k; ++i) {
    if (present[i]) continue;
    rows_.insert(rows_.end(), inverse_.data() + i * k, inverse_.data() + (i + 1) * k);
    outputs_.push_back(fragments.data() + i * len);
  }
  decode_tables_.resize(uk * static_cast<std::size_t>(missing) * 32);
  ec_init_tables(k, missing, rows_.data(), decode_tables_.data());
  ec_encode_data(static_cast<int>(len), k, missing, decode_tables_.data(), sources_.data(),
                 outputs_.data());
  return true;
}

}  // namespace cg::link
