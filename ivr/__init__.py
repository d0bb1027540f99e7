"""The call platform behind the 12371 party-member consultation hotline."""
