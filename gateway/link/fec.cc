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
  // Missing data fragments E (e of them), present data fragments D, and the first e present
  // parity fragments P. Parity row r: p_r = sum_c A[r][E_c] d_{E_c} + sum_l A[r][D_l] d_{D_l}
  // (GF(2^8): sums are XOR). So d_E = inv(A[P][E]) (p + A[P][D] d_D): only an e × e matrix is
  // inverted (e <= m), not k × k.
  missing_.clear();
  sources_.clear();
  for (int i = 0; i < k; ++i) {
    if (present[i]) {
      sources_.push_back(fragments.data() + i * len);
    } else {
      missing_.push_back(i);
    }
  }
  const std::size_t e = missing_.size();
  if (e == 0) return true;
  parity_rows_.clear();
  for (int i = k; i < k + m && parity_rows_.size() < e; ++i) {
    if (present[i]) parity_rows_.push_back(i);
  }
  if (parity_rows_.size() < e) return false;
  const Tables& t = tables(k, m);
  const auto uk = static_cast<std::size_t>(k);
  sub_.resize(e * e);
  inverse_.resize(e * e);
  for (std::size_t r = 0; r < e; ++r) {
    for (std::size_t c = 0; c < e; ++c) {
      sub_[r * e + c] = t.matrix[parity_rows_[r] * uk + missing_[c]];
    }
  }
  // Every square submatrix of a Cauchy matrix is invertible.
  CG_ASSERT(gf_invert_matrix(sub_.data(), inverse_.data(), static_cast<int>(e)) == 0);
  // Decoding rows over the sources [present data..., chosen parity...].
  rows_.assign(e * uk, 0);
  outputs_.clear();
  for (std::size_t c = 0; c < e; ++c) {
    std::uint8_t* row = rows_.data() + c * uk;
    std::size_t col = 0;
    for (int l = 0; l < k; ++l) {
      if (!present[l]) continue;
      std::uint8_t v = 0;
      for (std::size_t r = 0; r < e; ++r) {
        v ^= gf_mul(inverse_[c * e + r], t.matrix[parity_rows_[r] * uk + l]);
      }
      row[col++] = v;
    }
    for (std::size_t r = 0; r < e; ++r) row[col++] = inverse_[c * e + r];
    outputs_.push_back(fragments.data() + missing_[c] * len);
  }
  for (int p : parity_rows_) sources_.push_back(fragments.data() + p * len);
  decode_tables_.resize(uk * e * 32);
  ec_init_tables(k, static_cast<int>(e), rows_.data(), decode_tables_.data());
  ec_encode_data(static_cast<int>(len), k, static_cast<int>(e), decode_tables_.data(),
                 sources_.data(), outputs_.data());
  return true;
}

}  // namespace cg::link
