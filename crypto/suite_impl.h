// Internal to crypto/: the suite implementations' entry points.
#pragma once

#include "crypto/suite.h"
#include "gateway/common/assert.h"

namespace cg::crypto {

const Suite* modern_aes_suite();  // null without AES-NI
Result<Secret> hkdf_sha256(Bytes ikm, Bytes salt, Bytes info, std::size_t length);

}  // namespace cg::crypto
