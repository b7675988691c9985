#include "crypto/epoch.h"

#include <cstring>

#include "gateway/common/byte_reader.h"

namespace cg::crypto {
namespace {
constexpr std::string_view salt = "cellgate epoch v1";

Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

Result<std::vector<std::uint8_t>> epoch_info(const EpochContext& c) {
  if (c.origin.size() > 255 || c.destination.size() > 255) return malformed("epoch: name too long");
  std::vector<std::uint8_t> info;
  ByteWriter w(info);
  w.u8(static_cast<std::uint8_t>(c.suite));
  w.u8(static_cast<std::uint8_t>(c.origin.size()));
  w.bytes(as_bytes(c.origin));
  w.u8(static_cast<std::uint8_t>(c.destination.size()));
  w.bytes(as_bytes(c.destination));
  w.u32(c.stream);
  w.u64(c.epoch);
  w.bytes(c.ephemeral_public);
  w.bytes(c.recipient_public);
  return info;
}

Result<Secret> derive_epoch_key(const Suite& suite, const Secret& shared, const Secret* psk,
                                const EpochContext& context) {
  if (context.suite != suite.id()) return malformed("epoch: context names another suite");
  if (psk != nullptr && psk->size() != psk_bytes)
    return malformed("epoch: pre-shared key must be 32 bytes");
  CG_ASSIGN_OR_RETURN(auto info, epoch_info(context));
  Secret ikm(shared.size() + (psk ? psk->size() : 0));
  std::memcpy(ikm.bytes().data(), shared.bytes().data(), shared.size());
  if (psk) std::memcpy(ikm.bytes().data() + shared.size(), psk->bytes().data(), psk->size());
  return suite.hkdf(ikm.bytes(), as_bytes(salt), info, aead_key_bytes);
}

void epoch_nonce(const Suite& suite, std::uint64_t epoch, std::uint64_t seq,
                 std::span<std::uint8_t> out) {
  std::memset(out.data(), 0, out.size());
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seq >> (8 * i));
  const std::size_t epoch_bytes = suite.nonce_bytes() >= 16 ? 8 : suite.nonce_bytes() - 8;
  for (std::size_t i = 0; i < epoch_bytes; ++i)
    out[8 + i] = static_cast<std::uint8_t>(epoch >> (8 * i));
}

Status EpochKey::seal(std::uint64_t seq, Bytes ad, Bytes plaintext,
                      std::vector<std::uint8_t>& out) {
  if (seq < first_seq_) {
    return rejected("epoch " + std::to_string(epoch_) + ": seq " + std::to_string(seq) +
                    " is before the epoch's first, " + std::to_string(first_seq_));
  }
  if (last_seq_ && seq <= *last_seq_) {
    return rejected("epoch " + std::to_string(epoch_) + ": seq " + std::to_string(seq) +
                    " is not above the last sealed, " + std::to_string(*last_seq_) +
                    " (a nonce would repeat)");
  }
  std::uint8_t nonce[32];
  epoch_nonce(*suite_, epoch_, seq, {nonce, suite_->nonce_bytes()});
  if (!aead_.ok()) return aead_.status();
  CG_RETURN_IF_ERROR((*aead_)->seal({nonce, suite_->nonce_bytes()}, ad, plaintext, out));
  last_seq_ = seq;
  ++sealed_;
  return {};
}

Status EpochKey::open(std::uint64_t seq, Bytes ad, Bytes ciphertext,
                      std::vector<std::uint8_t>& out) const {
  out.clear();
  if (seq < first_seq_) {
    return rejected("epoch " + std::to_string(epoch_) + ": seq " + std::to_string(seq) +
                    " is before the epoch's first, " + std::to_string(first_seq_));
  }
  std::uint8_t nonce[32];
  epoch_nonce(*suite_, epoch_, seq, {nonce, suite_->nonce_bytes()});
  if (!aead_.ok())
    return unauthenticated("epoch " + std::to_string(epoch_) + ": " + aead_.status().reason());
  return (*aead_)->open({nonce, suite_->nonce_bytes()}, ad, ciphertext, out);
}

Result<NewEpoch> start_epoch(const Suite& suite, Bytes recipient_public, const Secret* psk,
                             EpochContext context) {
  std::vector<std::uint8_t> ephemeral_public;
  Result<Secret> shared = malformed("epoch: no agreement");
  {
    auto ephemeral = suite.generate_agreement_key();
    ephemeral_public = ephemeral->public_key();
    shared = ephemeral->agree(recipient_public);
  }  // the ephemeral private key is wiped here
  if (!shared.ok()) return shared.status();
  context.ephemeral_public = ephemeral_public;
  context.recipient_public = recipient_public;
  CG_ASSIGN_OR_RETURN(auto key, derive_epoch_key(suite, *shared, psk, context));
  return NewEpoch{std::move(key), std::move(ephemeral_public)};
}

Result<Secret> accept_epoch(const Suite& suite, const AgreementKey& recipient, const Secret* psk,
                            const EpochContext& context) {
  if (!ct_equal(context.recipient_public, recipient.public_key())) {
    return malformed("epoch: announced for another recipient key");
  }
  CG_ASSIGN_OR_RETURN(auto shared, recipient.agree(context.ephemeral_public));
  return derive_epoch_key(suite, shared, psk, context);
}

}  // namespace cg::crypto
