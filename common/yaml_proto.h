// Reads YAML (or JSON, which is YAML) into a protobuf message, strictly.
//
// Config files, the partnership registry and `refx create --from-file` all go
// through here. Keys are checked against the message descriptor as the YAML is
// walked, so an unknown or mistyped key fails with its full path
// (`storage.sqlite_pth: unknown key`) instead of being ignored; the typed
// result is then parsed by protobuf's own JSON mapping, so enums, timestamps
// and int64s follow the canonical proto3 JSON rules.
#ifndef REFX_COMMON_YAML_PROTO_H_
#define REFX_COMMON_YAML_PROTO_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace refx {

// Parses `text` into `message` (cleared first). `source` names the input
// (usually a file path) in error messages. Both `json_name` (lowerCamel) and
// proto field names are accepted as keys.
absl::Status ParseYamlToProto(absl::string_view text, absl::string_view source,
                              google::protobuf::Message* message);

// Reads and parses a file. NOT_FOUND names the file if it cannot be read.
absl::Status ReadYamlFileToProto(const std::string& path, google::protobuf::Message* message);

// Reads a whole file.
absl::Status ReadFileToString(const std::string& path, std::string* contents);

}  // namespace refx

#endif  // REFX_COMMON_YAML_PROTO_H_
