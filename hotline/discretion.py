"""Words a locked screen must not show, per language: a text with one of them could tell
someone holding her phone where she has been asking for help."""
from __future__ import annotations

SENSITIVE_WORDS = {
    "en": ["violence", "abuse", "therapy", "therapist", "lawyer", "crisis", "police", "shelter",
           "psychologist", "counselling", "counseling", "centre", "center", "refuge"],
    "nb": ["vold", "overgrep", "terapi", "advokat", "krise", "politi", "psykolog", "senter", "rådgiver"],
    "ar": ["عنف", "إساءة", "اعتداء", "علاج نفسي", "محامي", "محامية", "أزمة", "شرطة", "ملجأ", "مركز"],
    "so": ["rabshad", "xadgudub", "qareen", "booliis", "dhibaato", "xarun", "maskax"],
    "ur": ["تشدد", "زیادتی", "وکیل", "بحران", "پولیس", "تھراپی", "مرکز", "پناہ"],
    "ti": ["ዓመጽ", "ጠበቓ", "ፖሊስ", "ማእከል", "ቅልውላው"],
    "fa": ["خشونت", "سوءاستفاده", "وکیل", "بحران", "پلیس", "روان درمانی", "مرکز", "پناهگاه"],
    "pl": ["przemoc", "terapia", "terapeut", "prawnik", "adwokat", "kryzys", "policj", "ośrodek", "schronisk"],
}


def sensitive_words_in(text: str) -> list[str]:
    lowered = text.lower()
    return sorted({word for words in SENSITIVE_WORDS.values() for word in words if word.lower() in lowered})
