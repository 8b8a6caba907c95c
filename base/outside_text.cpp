#include "base/outside_text.hpp"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace kcd {

namespace {

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// The length of the valid UTF-8 sequence of a printable character at text[i], or 0.
std::size_t printable_utf8(std::string_view text, std::size_t i) {
  const auto b = static_cast<unsigned char>(text[i]);
  if (b < 0x80) return b >= 0x20 && b < 0x7f ? 1 : 0;
  std::uint32_t cp = 0;
  const std::size_t n = utf8_sequence(text, i, &cp);
  const bool c1 = cp >= 0x80 && cp < 0xa0;
  // Bidirectional overrides and isolates can make a terminal show text in another order.
  const bool bidi = (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
  return n > 0 && !c1 && !bidi ? n : 0;
}

}  // namespace

std::size_t utf8_sequence(std::string_view text, std::size_t i, std::uint32_t* code_point) {
  if (i >= text.size()) return 0;
  const auto b = static_cast<unsigned char>(text[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (b < 0x80) {
    n = 1;
    cp = b;
  } else if (b >= 0xc2 && b <= 0xdf) {
    n = 2;
    cp = b & 0x1f;
  } else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    cp = b & 0x0f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
  if (overlong || surrogate || cp > 0x10ffff) return 0;
  if (code_point != nullptr) *code_point = cp;
  return n;
}

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    // PEM private key blocks: "-----BEGIN ... PRIVATE KEY-----" up to the matching END line.
    if (text.compare(i, 11, "-----BEGIN ") == 0) {
      std::size_t eol = text.find("-----", i + 11);
      if (eol != std::string_view::npos) {
        std::string_view label = text.substr(i + 11, eol - (i + 11));
        if (label.size() >= 11 && label.substr(label.size() - 11) == "PRIVATE KEY") {
          std::string end_marker = "-----END " + std::string(label) + "-----";
          std::size_t end = text.find(end_marker, eol);
          out += "<redacted private key>";
          i = end == std::string_view::npos ? text.size() : end + end_marker.size();
          continue;
        }
      }
    }
    // "Bearer <credential>": whatever follows is a secret.
    if (text.compare(i, 7, "Bearer ") == 0) {
      out += "Bearer <redacted>";
      i += 7;
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) && text[i] != '"') ++i;
      continue;
    }
    // Bootstrap tokens: [a-z0-9]{6}\.[a-z0-9]{16}, not part of a longer word.
    if (i + 23 <= text.size() && text[i + 6] == '.' && (i == 0 || !is_token_char(text[i - 1]))) {
      bool match = true;
      for (std::size_t k = 0; k < 23 && match; ++k) {
        if (k == 6) continue;
        match = is_token_char(text[i + k]);
      }
      if (match && (i + 23 == text.size() || !is_token_char(text[i + 23]))) {
        out += "<redacted token>";
        i += 23;
        continue;
      }
    }
    out += text[i];
    ++i;
  }
  return out;
}

std::string outside_text(std::string_view text, std::size_t max_bytes) {
  // Enough of it for the redaction to see whole secrets; the rest is cut anyway.
  const std::string clean = redact_secrets(text.substr(0, max_bytes * 4 + 4096));
  std::string out;
  out.reserve(clean.size() < max_bytes ? clean.size() : max_bytes);
  std::size_t i = 0;
  while (i < clean.size()) {
    const std::size_t n = printable_utf8(clean, i);
    std::string piece;
    if (n > 0) {
      piece.assign(clean, i, n);
    } else {
      const char c = clean[i];
      if (c == '\n')
        piece = "\\n";
      else if (c == '\t')
        piece = "\\t";
      else if (c == '\r')
        piece = "\\r";
      else {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
        piece = hex;
      }
    }
    if (out.size() + piece.size() > max_bytes) {
      out += "...(cut; " + std::to_string(text.size()) + " bytes in all)";
      break;
    }
    out += piece;
    i += n > 0 ? n : 1;
  }
  return out;
}

}  // namespace kcd
