#include "common/proto_parse.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_details.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace refx {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

// Returns true and sets `bad_path` when a string field below `d` holds
// invalid UTF-8; false when none does or the bytes are malformed.
bool FindInvalidUtf8(const Descriptor* d, absl::string_view bytes, const std::string& path, int depth,
                     std::string* bad_path) {
  if (depth > 64) return false;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::map<int, int> seen;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    const FieldDescriptor* f = d->FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool nested = f != nullptr && WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
                        (f->type() == FieldDescriptor::TYPE_STRING || f->type() == FieldDescriptor::TYPE_MESSAGE);
    if (!nested) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    std::string value;
    if (!in.ReadVarint32(&length) || !in.ReadString(&value, static_cast<int>(length))) return false;
    std::string field_path = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (f->is_repeated() && !f->is_map()) absl::StrAppend(&field_path, "[", seen[f->number()]++, "]");
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      if (!IsValidUtf8(value)) {
        *bad_path = field_path;
        return true;
      }
    } else if (FindInvalidUtf8(f->message_type(), value, field_path, depth + 1, bad_path)) {
      return true;
    }
  }
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= n) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

absl::Status ParseMessageOrExplain(absl::string_view bytes, google::protobuf::Message* message) {
  if (message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return absl::OkStatus();
  std::string bad_path;
  if (FindInvalidUtf8(message->GetDescriptor(), bytes, "", 0, &bad_path)) {
    return InvalidArgumentError("the request contains text that is not valid UTF-8",
                                {{bad_path, "not valid UTF-8"}});
  }
  return InvalidArgumentError(
      absl::StrCat("the request is not a valid ", message->GetDescriptor()->full_name(), " message"),
      {{"", "malformed protobuf encoding"}});
}

}  // namespace refx
