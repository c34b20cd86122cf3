-- A person's console settings on their login: language (NULL: the browser's) and IANA timezone
-- (NULL: UTC), validated by the domain on the way in.

ALTER TABLE logins ADD COLUMN language TEXT;
ALTER TABLE logins ADD COLUMN timezone TEXT;
