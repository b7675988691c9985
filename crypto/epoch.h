// crypto/epoch.h: epoch keys for a one-way stream (DESIGN.md "Crypto").
//
// Nothing comes back on a link, so there is no handshake: the sender makes an ephemeral key
// agreement with the recipient's static key and announces the ephemeral public key in a signed
// record (gateway/envelope builds and signs it). Both sides derive
//
//   key = HKDF(ikm  = shared secret || psk (optional, 32 bytes),
//              salt = "cellgate epoch v1",
//              info = u8 suite || u8 len || origin || u8 len || destination || u32 stream ||
//                     u64 epoch || ephemeral public || recipient public,   length = 32)
//
// so a key is bound to its stream, epoch and suite and to both public keys. The optional
// pre-shared key is a hedge against a future quantum attack on the key agreement (as in
// WireGuard): an attacker who breaks X25519/ECDH still lacks the PSK.
//
// Nonces derive from (epoch, seq): seq little-endian in the first 8 bytes, the epoch in the
// next 8 (XChaCha20, 24-byte nonce, rest zero) or its low 4 bytes (GCM, 12-byte nonce). An
// EpochKey refuses to seal a seq not above the last it sealed, so a nonce can never repeat
// under a key; keys are per epoch and wiped when the EpochKey dies. The ephemeral private
// key is wiped as soon as the shared secret is computed.
//
// Thread-safety: an EpochKey used for sealing belongs to one thread; open() is const.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "crypto/suite.h"

namespace cg::crypto {

inline constexpr std::size_t psk_bytes = 32;

struct EpochContext {
  SuiteId suite = SuiteId::modern;
  std::string_view origin;
  std::string_view destination;
  std::uint32_t stream = 0;
  std::uint64_t epoch = 0;
  Bytes ephemeral_public;
  Bytes recipient_public;
};

// The HKDF info above. Errors: malformed (names longer than 255 bytes).
Result<std::vector<std::uint8_t>> epoch_info(const EpochContext& context);

// Derives the epoch key from a shared secret. `psk` may be null; otherwise psk_bytes long.
Result<Secret> derive_epoch_key(const Suite& suite, const Secret& shared, const Secret* psk,
                                const EpochContext& context);

// The nonce of `seq` in `epoch` (suite.nonce_bytes() long).
void epoch_nonce(const Suite& suite, std::uint64_t epoch, std::uint64_t seq,
                 std::span<std::uint8_t> out);

class EpochKey final {
 public:
  EpochKey(const Suite& suite, std::uint64_t epoch, std::uint64_t first_seq, Secret key,
           std::int64_t created_ns)
      : suite_(&suite),
        epoch_(epoch),
        first_seq_(first_seq),
        aead_(suite.prepare_aead(std::move(key))),
        created_ns_(created_ns) {}

  // Seals `plaintext` as item `seq` (AEAD with `ad`), appending ciphertext||tag to `out`.
  // Errors: rejected when seq is below first_seq or not above the last sealed seq (a nonce
  // would repeat).
  Status seal(std::uint64_t seq, Bytes ad, Bytes plaintext, std::vector<std::uint8_t>& out);
  // Opens item `seq`. Errors: unauthenticated (nothing released), rejected (seq before the
  // epoch's first).
  Status open(std::uint64_t seq, Bytes ad, Bytes ciphertext, std::vector<std::uint8_t>& out) const;

  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t first_seq() const { return first_seq_; }
  std::uint64_t sealed() const { return sealed_; }
  std::int64_t created_ns() const { return created_ns_; }
  // True when this epoch has sealed `items_max` items or is older than `age_max_ns`.
  bool due_for_rotation(std::uint64_t items_max, std::int64_t age_max_ns,
                        std::int64_t now_ns) const {
    return sealed_ >= items_max || now_ns - created_ns_ >= age_max_ns;
  }

 private:
  const Suite* suite_;
  std::uint64_t epoch_, first_seq_;
  // The key made ready once (AES-GCM: expanded) for every item of the epoch; an error (a key of
  // the wrong size) is what seal and open then answer.
  Result<std::unique_ptr<AeadKey>> aead_;
  std::int64_t created_ns_;
  std::uint64_t sealed_ = 0;
  std::optional<std::uint64_t> last_seq_;
};

// The sender's side of a new epoch: an ephemeral key pair, agreed with the recipient's static
// public key, then wiped. `context.ephemeral_public` is filled in here.
struct NewEpoch {
  Secret key;
  std::vector<std::uint8_t> ephemeral_public;
};
Result<NewEpoch> start_epoch(const Suite& suite, Bytes recipient_public, const Secret* psk,
                             EpochContext context);

// The recipient's side: the same key from the announced ephemeral public key. The caller has
// verified the announcement's signature first. Errors: malformed (bad ephemeral key).
Result<Secret> accept_epoch(const Suite& suite, const AgreementKey& recipient, const Secret* psk,
                            const EpochContext& context);

}  // namespace cg::crypto
