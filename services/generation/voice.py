"""A brand's voice (the `voice` JSON of a brand, written through the brands API), read
leniently: unknown keys are ignored, a list may be given as one string."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.models import Brand


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(item) for item in value if str(item).strip()]


class BrandVoice(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    tone: list[str] = Field(default=[], description="Tone words, e.g. chaleureux, complice.")
    dos: list[str] = Field(
        default=[], description="What the brand does (e.g. tutoyer la communauté)."
    )
    donts: list[str] = Field(default=[], description="What it never does.")
    banned_terms: list[str] = Field(
        default=[], description="Words and phrases that must not appear."
    )
    competitors: list[str] = Field(
        default=[], description="Names the brand never mocks or attacks."
    )
    emoji: Literal["none", "sparingly", "freely"] = Field(
        default="sparingly", description="Emoji policy: none, sparingly (one or two) or freely."
    )
    formality: Literal["tu", "vous", "any"] = Field(default="any", description="French address.")
    languages: list[str] = Field(default=[], description="Languages the brand speaks.")
    sample_posts: list[str] = Field(default=[], description="Posts that sound like the brand.")

    @field_validator(
        "tone",
        "dos",
        "donts",
        "banned_terms",
        "competitors",
        "languages",
        "sample_posts",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: Any) -> list[str]:
        return _as_list(value)

    @field_validator("emoji", mode="before")
    @classmethod
    def _emoji(cls, value: Any) -> str:
        text = str(value or "sparingly").lower()
        return {
            "no": "none",
            "never": "none",
            "false": "none",
            "rarely": "sparingly",
            "few": "sparingly",
            "yes": "freely",
            "true": "freely",
            "lots": "freely",
        }.get(text, text)

    @classmethod
    def of(cls, brand: Brand | None) -> BrandVoice:
        raw = dict(brand.voice or {}) if brand is not None else {}
        if "samples" in raw and "sample_posts" not in raw:
            raw["sample_posts"] = raw.pop("samples")
        if "do" in raw and "dos" not in raw:
            raw["dos"] = raw.pop("do")
        if "dont" in raw and "donts" not in raw:
            raw["donts"] = raw.pop("dont")
        try:
            voice = cls.model_validate(raw)
        except ValidationError:
            voice = cls.model_validate(
                {k: v for k, v in raw.items() if k != "emoji" and k != "formality"}
            )
        if not voice.languages and brand is not None:
            voice = voice.model_copy(update={"languages": list(brand.languages or [])})
        return voice

    def as_facts(self) -> dict[str, Any]:
        return self.model_dump()
