"""Blog/article feeds pasted as text (a feed reader's page): each article starts with
a top-level bullet `  • Title`, then the title again, then the author, then the text.
Bullets inside an article are indented deeper and do not start an article; they stay
a list, and the article's lines and code survive as plain_text makes them."""

import re

from exchange.importers import plain_text
from exchange.importers.base import Item, key, upsert_note

ARTICLE = re.compile(r"^ {0,3}[•*-] (?P<title>\S.*)$")


def parse(text: str) -> list[dict]:
    lines = text.split("\n")
    starts = []
    for i, line in enumerate(lines):
        match = ARTICLE.match(line)
        if not match:
            continue
        title = match.group("title").strip()
        following = [t.strip() for t in lines[i + 1:i + 6] if t.strip()]
        # A feed entry repeats its title under the bullet; a stray list item does not.
        if following and following[0] == title:
            starts.append((i, title))
    articles = []
    for n, (start, title) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        body_lines = [line.strip() for line in lines[start + 1:end]]
        # Drop the repeated title and the author line: they become the note's title and byline.
        content = [i for i, t in enumerate(body_lines) if t][:2]
        author = body_lines[content[1]] if len(content) > 1 else ""
        text = "\n".join(body_lines[content[-1] + 1:] if content else body_lines)
        articles.append({"title": title, "author": author, "body": plain_text.to_markdown(text.strip())})
    return articles


def items(text: str, name: str) -> list[Item]:
    return [Item(label=a["title"][:120], save=_saver(a)) for a in parse(text)]


def _saver(article: dict):
    def save(ctx):
        body = f"By {article['author']}\n\n{article['body']}" if article["author"] else article["body"]
        _, created = upsert_note(
            ctx, source_key=key("feed", " ".join(article["title"].split()).casefold()), title=article["title"],
            body=body, tags=["blog"],
        )
        return [("notes", created)]

    return save
