// Fuzz target: a private or public key file a node is handed (crypto/keys decode_*). Without a
// passphrase, encrypted files stop before Argon2id (whose cost a hostile file could set to
// the 1 GiB bound, seconds per input); the header and clear-key parsing is what is fuzzed.
// Hostile input must end in a status, never a crash.
#include <cstdint>
#include <cstdlib>

#include "crypto/keys.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const cg::crypto::Bytes input(data, size);
  auto k = cg::crypto::decode_private_key(input, nullptr, true);
  if (k.ok() && k->private_key.size() != 32 && k->private_key.size() != 48) std::abort();
  (void)cg::crypto::decode_public_key({reinterpret_cast<const char*>(data), size});
  (void)cg::crypto::decode_link_key(input);
  return 0;
}
