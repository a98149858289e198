#pragma once
// Converting the engine's UTF-8 strings for Qt and back.

#include <QString>
#include <string_view>

namespace attnscope::ui {

inline QString toQString(std::string_view text) {
  return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

// "1 token", "6 tokens": English plurals without a translation catalogue.
inline QString counted(qsizetype count, const QString& singular, const QString& plural) {
  return QStringLiteral("%1 %2").arg(count).arg(count == 1 ? singular : plural);
}

// A score or weight as the tables and tooltips print it: 4 decimals, as the book prints tensors.
inline QString formatValue(float value) {
  return QString::number(value, 'f', 4);
}

// A token as a label: white space made visible (the chars tokenizer keeps it), long tokens elided.
QString displayToken(const QString& token, int maxCharacters = 0);

}  // namespace attnscope::ui
