"""Settings of the exchange app, read from the environment; imported into lablog.settings."""

from lablog.env import envint

# An upload (web import page, API) larger than this is refused before it is read.
EXCHANGE_UPLOAD_MAX_BYTES = envint("EXCHANGE_UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
# Zip vaults: at most this many entries, this many bytes once uncompressed (all entries
# together), and no entry that inflates more than this ratio (a zip bomb).
EXCHANGE_ZIP_MAX_FILES = envint("EXCHANGE_ZIP_MAX_FILES", 5000)
EXCHANGE_ZIP_MAX_UNCOMPRESSED_BYTES = envint("EXCHANGE_ZIP_MAX_UNCOMPRESSED_BYTES", 200 * 1024 * 1024)
EXCHANGE_ZIP_MAX_RATIO = envint("EXCHANGE_ZIP_MAX_RATIO", 100)
# The JSON API refuses request bodies over this size with 413.
API_MAX_BODY_BYTES = envint("API_MAX_BODY_BYTES", 2 * 1024 * 1024)
# Days an API token stays valid unless the user picks otherwise.
API_TOKEN_DEFAULT_DAYS = envint("API_TOKEN_DEFAULT_DAYS", 90)
