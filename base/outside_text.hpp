// Text that comes from outside (an API server's messages, a certificate's names, a kubelet's
// output) before it is shown or stored: secrets redacted, control characters and broken UTF-8
// escaped, length bounded. Also the redaction every log line goes through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kcd {

// The length of the well-formed UTF-8 sequence at text[i] (1 for ASCII; no overlong forms,
// surrogates or code points past U+10FFFF), or 0; its code point in `code_point` when given.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::uint32_t* code_point = nullptr);

// Replaces bearer tokens (bootstrap-token shape [a-z0-9]{6}.[a-z0-9]{16}, and anything after
// "Bearer ") and PEM private-key blocks with placeholders.
std::string redact_secrets(std::string_view text);

// redact_secrets, then every byte that is not printable: control characters (C0, DEL, C1),
// and bytes that are not valid UTF-8, written as \xNN (and newline, tab, CR as \n \t \r), so
// the result is one line of valid UTF-8 that cannot move a terminal's cursor or forge a log
// line. Longer than `max_bytes`: cut at a character boundary, "...(cut; N bytes in all)" appended.
std::string outside_text(std::string_view text, std::size_t max_bytes = 1024);

}  // namespace kcd
