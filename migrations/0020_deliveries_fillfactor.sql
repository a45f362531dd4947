-- Room on each page of deliveries for the claim's new row version
-- (bench/HISTORY.md, step 42). A claim only sets locked_until, which no
-- index holds, so its update can stay on the row's page (a HOT update) and
-- write no index entry, if the page has room. Filled to the brim, every
-- claim wrote a new entry in five of the table's indexes: of 83,000
-- updates in a full-speed delivery run, 6,400 were HOT. With three tenths of
-- each page left free, a third of all updates were (the record's update of
-- status and delivered_at can never be: both are indexed). Pages written
-- before this keep their fill.
ALTER TABLE deliveries SET (fillfactor = 70);
