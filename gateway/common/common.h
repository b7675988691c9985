// gateway/common: the vocabulary every module shares. Including this header brings in all of
// it; modules may also include the individual headers below.
#pragma once

#include "gateway/common/assert.h"
#include "gateway/common/byte_reader.h"
#include "gateway/common/clock.h"
#include "gateway/common/hex.h"
#include "gateway/common/limits.h"
#include "gateway/common/rate_log.h"
#include "gateway/common/status.h"
#include "gateway/common/text.h"
