#include "common/yaml_proto.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/json_text.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "yaml-cpp/yaml.h"

namespace refx {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

std::string JoinPath(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

class Converter {
 public:
  explicit Converter(absl::string_view source) : source_(source) {}

  absl::Status Error(absl::string_view path, absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", path.empty() ? "(top level)" : path, ": ", problem));
  }

  absl::Status Message(const YAML::Node& node, const Descriptor* d, absl::string_view path,
                       std::string* out) {
    if (node.IsNull()) {
      *out += "{}";
      return absl::OkStatus();
    }
    const std::string wkt = d->full_name();
    if (wkt == "google.protobuf.Timestamp" || wkt == "google.protobuf.Duration" ||
        wkt == "google.protobuf.FieldMask") {
      if (!node.IsScalar()) return Error(path, "expected a string");
      absl::Time unused_time;
      std::string unused_error;
      if (wkt == "google.protobuf.Timestamp" &&
          !absl::ParseTime(absl::RFC3339_full, node.Scalar(), &unused_time, &unused_error)) {
        return Error(path, "expected an RFC 3339 time such as 2026-11-01T10:00:00Z");
      }
      *out += JsonQuote(node.Scalar());
      return absl::OkStatus();
    }
    if (!node.IsMap()) return Error(path, "expected a mapping of keys to values");
    *out += "{";
    bool first = true;
    for (const auto& kv : node) {
      // A key that is itself a list or a mapping names no field (found by
      // fuzzing: as<std::string>() threw and ended the process).
      if (!kv.first.IsScalar()) return Error(path, "a key must be a plain name");
      const std::string key = kv.first.Scalar();
      const FieldDescriptor* f = d->FindFieldByName(key);
      if (f == nullptr) {
        for (int i = 0; i < d->field_count() && f == nullptr; ++i) {
          if (d->field(i)->json_name() == key) f = d->field(i);
        }
      }
      const std::string field_path = JoinPath(path, key);
      if (f == nullptr) return Error(field_path, "unknown key");
      if (!first) *out += ",";
      first = false;
      *out += JsonQuote(f->name());
      *out += ":";
      REFX_RETURN_IF_ERROR(Field(kv.second, f, field_path, out));
    }
    *out += "}";
    return absl::OkStatus();
  }

  absl::Status Field(const YAML::Node& node, const FieldDescriptor* f, absl::string_view path,
                     std::string* out) {
    if (f->is_map()) {
      if (node.IsNull()) {
        *out += "{}";
        return absl::OkStatus();
      }
      if (!node.IsMap()) return Error(path, "expected a mapping");
      const FieldDescriptor* value_field = f->message_type()->map_value();
      *out += "{";
      bool first = true;
      for (const auto& kv : node) {
        if (!first) *out += ",";
        first = false;
        if (!kv.first.IsScalar()) return Error(path, "a key must be a plain name");
        const std::string key = kv.first.Scalar();
        *out += JsonQuote(key) + ":";
        REFX_RETURN_IF_ERROR(Single(kv.second, value_field, JoinPath(path, key), out));
      }
      *out += "}";
      return absl::OkStatus();
    }
    if (f->is_repeated()) {
      if (node.IsNull()) {
        *out += "[]";
        return absl::OkStatus();
      }
      if (!node.IsSequence()) return Error(path, "expected a list");
      *out += "[";
      for (size_t i = 0; i < node.size(); ++i) {
        if (i > 0) *out += ",";
        REFX_RETURN_IF_ERROR(Single(node[i], f, absl::StrCat(path, "[", i, "]"), out));
      }
      *out += "]";
      return absl::OkStatus();
    }
    return Single(node, f, path, out);
  }

  absl::Status Single(const YAML::Node& node, const FieldDescriptor* f, absl::string_view path,
                      std::string* out) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Message(node, f->message_type(), path, out);
    }
    if (node.IsNull()) {
      *out += "null";
      return absl::OkStatus();
    }
    if (!node.IsScalar()) return Error(path, "expected a single value");
    const std::string& s = node.Scalar();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_BOOL:
        if (s == "true" || s == "false") {
          *out += s;
          return absl::OkStatus();
        }
        return Error(path, "expected true or false");
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        int64_t unused;
        uint64_t unused_unsigned;
        if (!absl::SimpleAtoi(s, &unused) && !absl::SimpleAtoi(s, &unused_unsigned)) {
          return Error(path, "expected a whole number");
        }
        // Quoted numbers are valid proto3 JSON; the JSON parser checks range.
        *out += JsonQuote(s);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double unused;
        if (!absl::SimpleAtod(s, &unused)) return Error(path, "expected a number");
        *out += JsonQuote(s);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number;
        if (f->enum_type()->FindValueByName(s) == nullptr &&
            !(absl::SimpleAtoi(s, &number) && f->enum_type()->FindValueByNumber(number) != nullptr)) {
          std::vector<std::string> names;
          for (int i = 0; i < f->enum_type()->value_count(); ++i) names.push_back(f->enum_type()->value(i)->name());
          return Error(path, absl::StrCat("unknown value; expected one of ", absl::StrJoin(names, ", ")));
        }
        *out += JsonQuote(s);
        return absl::OkStatus();
      }
      default:
        *out += JsonQuote(s);
        return absl::OkStatus();
    }
  }

 private:
  std::string source_;
};

}  // namespace

absl::Status ParseYamlToProto(absl::string_view text, absl::string_view source,
                              google::protobuf::Message* message) {
  message->Clear();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    // yaml-cpp's message names the line and column, never the content.
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", e.what()));
  }
  std::string json;
  Converter converter(source);
  try {
    REFX_RETURN_IF_ERROR(converter.Message(root, message->GetDescriptor(), "", &json));
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws from node access too (aliases, conversions); whatever
    // it throws is a bad file, never a crash. Its message may quote a key,
    // so only the position is kept.
    if (e.mark.is_null()) return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML"));
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not valid YAML at line ", e.mark.line + 1, ", column ", e.mark.column + 1));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    // Protobuf's message can quote the offending value, which may be personal
    // data: keep only its first clause.
    std::string reason(status.message());
    reason = reason.substr(0, reason.find(':'));
    return absl::InvalidArgumentError(absl::StrCat(source, ": a value is not valid for its field (", reason, ")"));
  }
  return absl::OkStatus();
}

absl::Status ReadFileToString(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read file ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  *contents = ss.str();
  return absl::OkStatus();
}

absl::Status ReadYamlFileToProto(const std::string& path, google::protobuf::Message* message) {
  std::string text;
  REFX_RETURN_IF_ERROR(ReadFileToString(path, &text));
  return ParseYamlToProto(text, path, message);
}

}  // namespace refx
