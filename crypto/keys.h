// crypto/keys.h: key files. Format: crypto/KEYFILE.md.
//
// A private key file holds one key (signing or key agreement) of one suite, with its public
// key in clear and the private key sealed under a passphrase (Argon2id + XChaCha20-Poly1305,
// the file's header as associated data) — or in clear only when written and read with an
// explicit `allow_unencrypted`. Loading checks everything and says which: a truncated or
// malformed file (malformed), a wrong passphrase or tampered file (unauthenticated: AEAD
// cannot tell them apart), a key of another suite or kind (rejected), and that the private key
// matches the public key stored with it.
//
// Public key files are one line of text: "cellgate-public-key v1 <suite> <kind> <hex>".
// Link keys (32-byte MAC keys shared by the two ends of a link) are "CGLINK1\n" + 32 bytes.
// Files with secrets are written with mode 0600.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crypto/suite.h"

namespace cg::crypto {

enum class KeyKind : std::uint8_t { signing = 1, agreement = 2 };
std::string_view kind_name(KeyKind kind);

// Argon2id cost. Defaults: libsodium's "interactive" limits (64 MiB, 2 passes).
struct PasswordCost {
  std::uint64_t opslimit = 2;
  std::uint64_t memlimit = 64u << 20;
};
// The most a key file may ask for (a hostile file must not make loading take gigabytes).
inline constexpr std::uint64_t memlimit_max = 1u << 30;
inline constexpr std::size_t key_file_bytes_max = 4096;

// Serialises a private key file. `passphrase` null = unencrypted, allowed only with
// `allow_unencrypted`. Errors: rejected (unencrypted without the flag).
Result<std::vector<std::uint8_t>> encode_private_key(SuiteId suite, KeyKind kind, Bytes public_key,
                                                     const Secret& private_key,
                                                     const Secret* passphrase,
                                                     bool allow_unencrypted,
                                                     const PasswordCost& cost = {});

struct PrivateKeyFile {
  SuiteId suite;
  KeyKind kind;
  bool encrypted;
  std::vector<std::uint8_t> public_key;
  Secret private_key;
};
// Parses and opens a private key file. `expect_suite`/`expect_kind` (if given) must match.
Result<PrivateKeyFile> decode_private_key(Bytes file, const Secret* passphrase,
                                          bool allow_unencrypted,
                                          std::optional<SuiteId> expect_suite = std::nullopt,
                                          std::optional<KeyKind> expect_kind = std::nullopt);

// Loaders that also check the private key matches the stored public key.
Result<std::unique_ptr<SigningKey>> load_signing_key_file(
    const std::string& path, const Secret* passphrase, bool allow_unencrypted,
    std::optional<SuiteId> suite = std::nullopt);
Result<std::unique_ptr<AgreementKey>> load_agreement_key_file(
    const std::string& path, const Secret* passphrase, bool allow_unencrypted,
    std::optional<SuiteId> suite = std::nullopt);

std::string encode_public_key(SuiteId suite, KeyKind kind, Bytes public_key);
struct PublicKeyFile {
  SuiteId suite;
  KeyKind kind;
  std::vector<std::uint8_t> public_key;
};
Result<PublicKeyFile> decode_public_key(std::string_view text);
Result<PublicKeyFile> read_public_key_file(const std::string& path);

// Link keys.
std::vector<std::uint8_t> encode_link_key(const Secret& key);
Result<Secret> decode_link_key(Bytes file);
Result<Secret> read_link_key_file(const std::string& path);

// A passphrase from a file (first line, without its newline). Errors: io, malformed (empty).
Result<Secret> read_passphrase_file(const std::string& path);

// Whole-file helpers: read at most `max` bytes.
Result<std::vector<std::uint8_t>> read_file(const std::string& path, std::size_t max);

// What write_file does when something is already at the path.
enum class Existing : std::uint8_t {
  refuse,   // Code::rejected ("already exists"): nothing is written (commands without --force)
  replace,  // a regular file is replaced atomically; a symbolic link or special file is still
            // refused (Code::rejected), never written through nor replaced
};
// Writes `data` to `path` with exactly `mode` (whatever the umask): first into a new temporary
// file in the same folder (O_CREAT|O_EXCL|O_NOFOLLOW, the final mode from its creation, synced),
// then link()ed to `path` (refuse: fails if anything appeared there meanwhile) or rename()d over
// it (replace). No symbolic link is ever followed, no partial file is ever visible at `path`, and
// a secret file never exists with a wider mode. Errors: rejected (see Existing), io.
Status write_file(const std::string& path, Bytes data, unsigned mode,
                  Existing existing = Existing::replace);
// ok when nothing is at `path` or it is a regular file; Code::rejected for a symbolic link or
// special file; io when it cannot be examined.
Status check_replaceable(const std::string& path);

// `cellgate keygen`: writes <dir>/<node>.sign (+ .pub) and <dir>/<node>.kx (+ .pub).
struct NodeKeyPaths {
  std::string signing, signing_public, agreement, agreement_public;
};
// With Existing::refuse (the default) nothing is written when any of the four files exists.
Result<NodeKeyPaths> write_node_keys(const std::string& dir, const std::string& node, SuiteId suite,
                                     const Secret* passphrase, bool allow_unencrypted,
                                     const PasswordCost& cost = {},
                                     Existing existing = Existing::refuse);

}  // namespace cg::crypto
