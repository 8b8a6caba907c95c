// Reading a persisted JSON document field by field without exceptions: every accessor checks the
// type and form of what it reads, the first problem is kept ("client.csrsCreated: expected a
// whole number from 0") and later reads return defaults. The caller turns problem() into its
// error. Shared by the state files of rotation/ and kubelet/.
#pragma once

#include "base/rfc3339.hpp"

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>

namespace kcd {

class JsonReader {
 public:
  using json = nlohmann::json;

  const std::optional<std::string>& problem() const { return problem_; }
  void fail(std::string what) {
    if (!problem_) problem_ = std::move(what);
  }

  // The field, or nullptr when absent.
  static const json* find(const json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }
  // The field; a missing one is a problem ("<at><key>: missing") and reads as null.
  const json& require(const json& obj, const char* key, const std::string& at) {
    if (const json* v = find(obj, key)) return *v;
    fail(at + key + ": missing");
    return null_;
  }

  std::string string(const json& j, const std::string& at, std::size_t max = 4096) {
    if (!j.is_string()) {
      fail(at + ": expected a string");
      return {};
    }
    const auto& s = j.get_ref<const std::string&>();
    if (s.size() > max) {
      fail(at + ": longer than " + std::to_string(max) + " bytes");
      return {};
    }
    return s;
  }

  std::optional<SysTime> time(const json& j, const std::string& at) {
    const std::string text = string(j, at, 64);
    if (problem_) return std::nullopt;
    auto t = parse_rfc3339(text);
    if (!t) fail(at + ": not an RFC 3339 time");
    return t;
  }

  long long whole(const json& j, const std::string& at, long long max) {
    if (!j.is_number_integer() || j.get<long long>() < 0 || j.get<long long>() > max) {
      fail(at + ": expected a whole number from 0");
      return 0;
    }
    return j.get<long long>();
  }

  bool boolean(const json& j, const std::string& at) {
    if (!j.is_boolean()) {
      fail(at + ": expected true or false");
      return false;
    }
    return j.get<bool>();
  }

  // An object whose keys are all in `allowed` (empty: any key).
  bool object(const json& j, const std::string& at, std::initializer_list<const char*> allowed = {}) {
    if (!j.is_object()) {
      fail((at.empty() ? "the document" : at) + ": expected an object");
      return false;
    }
    if (allowed.size() == 0) return true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool known = false;
      for (const char* k : allowed) known = known || it.key() == k;
      if (!known) {
        fail(at + (at.empty() ? "" : ".") + it.key() + ": unknown field");
        return false;
      }
    }
    return true;
  }

 private:
  std::optional<std::string> problem_;
  json null_;
};

}  // namespace kcd
