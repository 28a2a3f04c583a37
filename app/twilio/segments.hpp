// SMS text as carriers count and Twilio sends it: segments, and parts of a long reply.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace smsr {

enum class SmsEncoding { kGsm7, kUcs2 };

struct SegmentInfo {
  SmsEncoding encoding = SmsEncoding::kGsm7;
  std::size_t units = 0;     // GSM-7 septets (extension chars count 2) or UTF-16 units
  std::size_t segments = 0;  // 1 for an empty body
};

// Counts segments as carriers do: GSM-7 160 per single message / 153 per part; any
// character outside GSM-7 makes the whole text UCS-2: 70 / 67 per part, counted in UTF-16
// code units (an emoji counts 2). Extension chars (FF ^ { } \ [ ~ ] | €) count 2.
SegmentInfo count_segments(std::string_view utf8);

// Splits text longer than `max_chars` (counted in Unicode code points) into ordered parts
// of at most max_chars each, breaking at whitespace where possible (never inside a UTF-8
// sequence; a single word longer than max_chars is cut). Text within the limit is returned
// as one part. Parts are trimmed of the whitespace at the break.
std::vector<std::string> split_message(std::string_view utf8, std::size_t max_chars);

}  // namespace smsr
