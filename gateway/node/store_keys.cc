#include "gateway/node/store_keys.h"

#include "gateway/store/store.h"

namespace cg::node {

std::vector<std::uint8_t> name_number_key(std::string_view name, std::uint64_t number) {
  std::vector<std::uint8_t> k(name.begin(), name.end());
  k.push_back(0);
  const auto n = store::be64(number);
  k.insert(k.end(), n.begin(), n.end());
  return k;
}

std::vector<std::uint8_t> mark_key_of(std::string_view party) {
  std::vector<std::uint8_t> k{'w', 'i', 'r', 'e', '/'};
  k.insert(k.end(), party.begin(), party.end());
  return k;
}

std::vector<std::uint8_t> logged_key_of(std::string_view origin, std::string_view destination,
                                        std::uint32_t stream, std::uint64_t seq) {
  std::vector<std::uint8_t> k(origin.begin(), origin.end());
  k.push_back(0);
  k.insert(k.end(), destination.begin(), destination.end());
  k.push_back(0);
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<std::uint8_t>(stream >> (8 * i)));
  const auto s = store::be64(seq);
  k.insert(k.end(), s.begin(), s.end());
  return k;
}

std::span<const std::uint8_t> text_key_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace cg::node
