// Reed–Solomon erasure code over GF(2^8) (ISA-L, Cauchy matrix): k data fragments and m parity
// fragments, any k of which restore the data. Internal to gateway/link.
//
// An Fec object caches encoding tables per (k, m) (bounded); it is not thread-safe: each
// sender and receiver owns one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

namespace cg::link {

class Fec final {
 public:
  // `fragments` holds k + m fragments of `len` bytes each, back to back; the first k are the
  // data. Fills the m parity fragments.
  void encode(int k, int m, std::size_t len, std::span<std::uint8_t> fragments);

  // `fragments` as above; `present[i]` says whether fragment i arrived. Needs at least k
  // present; restores the missing data fragments in place (parity fragments are left as they
  // are). Returns false if fewer than k are present.
  bool decode(int k, int m, std::size_t len, std::span<std::uint8_t> fragments,
              std::span<const std::uint8_t> present);

 private:
  struct Tables {
    std::vector<std::uint8_t> matrix;  // (k + m) × k, top k rows the identity
    std::vector<std::uint8_t> parity;  // ec_init_tables of the bottom m rows
  };
  const Tables& tables(int k, int m);

  static constexpr std::size_t cached_max = 64;
  std::map<std::pair<int, int>, Tables> cache_;
  std::vector<std::uint8_t*> sources_, outputs_;
  std::vector<std::uint8_t> sub_, inverse_, rows_, decode_tables_;
  std::vector<int> missing_, parity_rows_;
};

}  // namespace cg::link
