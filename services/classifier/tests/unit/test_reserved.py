"""The reserved-event filter drops what evaluation holds out and keeps the near misses."""

import pytest

from switchboard_classifier.reserved import (
    MatchBasis,
    ReservedEvent,
    is_reserved_record,
    reserved_dataset,
    reserved_event_id,
    reserved_match,
    reserved_text,
)

E = ReservedEvent


@pytest.mark.parametrize(
    ("text", "event"),
    [
        (
            "Evacuation order for all of Fort McMurray, fire jumped the river",
            E.FORT_MCMURRAY_WILDFIRE_2016,
        ),
        ("Praying for everyone in #FortMcMurray tonight", E.FORT_MCMURRAY_WILDFIRE_2016),
        ("#ymmfire update: Highway 63 closed south of town", E.FORT_MCMURRAY_WILDFIRE_2016),
        ("Fort Mac residents, the wildfire is at Beacon Hill", E.FORT_MCMURRAY_WILDFIRE_2016),
        ("Los evacuados del incendio en Alberta llegan a Edmonton", E.FORT_MCMURRAY_WILDFIRE_2016),
        ("the Horse River fire has grown to 85,000 hectares", E.FORT_MCMURRAY_WILDFIRE_2016),
        ("#DallasPoliceShooting five officers killed downtown", E.DALLAS_POLICE_SHOOTING),
        ("Sniper shot police officers at the Dallas protest march", E.DALLAS_POLICE_SHOOTING),
        ("Tiroteo en Dallas: cinco policías muertos durante una marcha", E.DALLAS_POLICE_SHOOTING),
        ("Micah Johnson identified as the gunman", E.DALLAS_POLICE_SHOOTING),
        ("#HurricaneFlorence is now a Category 4", E.HURRICANE_FLORENCE_2018),
        (
            "Florence making landfall near Wrightsville Beach, storm surge 10ft",
            E.HURRICANE_FLORENCE_2018,
        ),
        ("El huracán Florence toca tierra en Carolina del Norte", E.HURRICANE_FLORENCE_2018),
        ("Roads underwater in New Bern after Florence", E.HURRICANE_FLORENCE_2018),
        ("#BoholEarthquake death toll rises to 144", E.BOHOL_EARTHQUAKE_2013),
        ("magnitude 7.2 quake flattens churches in Bohol", E.BOHOL_EARTHQUAKE_2013),
        ("Terremoto de 7,2 en Bohol, Filipinas", E.BOHOL_EARTHQUAKE_2013),
        ("Fuerza #Chocó, el río desbordado no nos vence", E.CHOCO_FLOOD_2019),
        ("Inundaciones en Quibdó dejan miles de damnificados", E.CHOCO_FLOOD_2019),
        ("CHOCO: el río Atrato se desbordó otra vez, emergencia en Riosucio", E.CHOCO_FLOOD_2019),
        ("#NapaEarthquake broke every bottle in the cellar", E.SOUTH_NAPA_EARTHQUAKE_2014),
        ("6.0 earthquake shook Napa at 3:20am, chimneys down", E.SOUTH_NAPA_EARTHQUAKE_2014),
        ("Sismo de magnitud 6 sacude Napa, California", E.SOUTH_NAPA_EARTHQUAKE_2014),
        ("that quake woke up the whole Bay Area", E.SOUTH_NAPA_EARTHQUAKE_2014),
    ],
)
def test_text_about_a_reserved_event_is_dropped(text, event):
    assert reserved_text(text) is event
    match = reserved_match(text, dataset="some-public-set")
    assert match is not None and match.event is event and match.basis is MatchBasis.TEXT


@pytest.mark.parametrize(
    "text",
    [
        "The Camp Fire in Paradise, California has destroyed the town, Nov 2018",
        "Thomas fire smoke over Ventura again today, 2017 is the worst season yet",
        "Dallas traffic on I-35 is backed up to downtown again",
        "Dallas police close Elm Street for the marathon on Sunday",
        "Great weekend in Florence, the Uffizi was worth the queue",
        "Florence + the Machine announced a new tour",
        "Hurricane Harvey flooding in Houston, water rising in Meyerland",
        "Napa Valley wine tasting tour this weekend, who's in?",
        "Beautiful beaches in Bohol, highly recommend Panglao",
        "Compré chocolate en el supermercado, el choco de la abuela es mejor",
        "Fuertes lluvias en Medellín dejan calles inundadas",
        "Earthquake in Nepal: thousands feared dead in Kathmandu",
        "Terremoto en Chile de 8.2 grados, alerta de tsunami en Iquique",
        "Alberta election results are in",
    ],
)
def test_near_misses_are_kept(text):
    assert reserved_text(text) is None
    assert reserved_match(text) is None


@pytest.mark.parametrize(
    ("event_id", "event"),
    [
        ("canada_wildfires_2016", E.FORT_MCMURRAY_WILDFIRE_2016),
        ("hurricane_florence_2018", E.HURRICANE_FLORENCE_2018),
        ("2014_California_Earthquake", E.SOUTH_NAPA_EARTHQUAKE_2014),
        ("2013_Bohol_earthquake", E.BOHOL_EARTHQUAKE_2013),
        ("2019_Choco_flood", E.CHOCO_FLOOD_2019),
        ("2016_Dallas_police_shooting", E.DALLAS_POLICE_SHOOTING),
    ],
)
def test_reserved_event_ids_are_dropped_whatever_the_text(event_id, event):
    assert reserved_event_id(event_id) is event
    match = reserved_match("water everywhere, stay safe", event_id=event_id)
    assert match is not None and match.basis is MatchBasis.EVENT_ID and match.event is event


@pytest.mark.parametrize(
    "event_id",
    [
        "california_wildfires_2018",
        "hurricane_harvey_2017",
        "kerala_floods_2018",
        "2014_Chile_Earthquake_cl",
        "",
    ],
)
def test_other_event_ids_are_kept(event_id):
    assert reserved_event_id(event_id) is None


@pytest.mark.parametrize(
    ("dataset", "repository", "event"),
    [
        ("TREC-IS 2019-B", "", E.TREC_IS),
        ("trecis2020", "", E.TREC_IS),
        ("CrisisLexT26", "", E.CRISISLEX),
        ("crisislex-t6", "", E.CRISISLEX),
        ("", "sajao/CrisisLex", E.CRISISLEX),
        (
            "urban-issues",
            "pratiksha-naikk/Twitter-Data-Analysis-To-Identify-Urban-Issues",
            E.MUMBAI_POLICE_TWEETS,
        ),
        ("Mumbai Police tweets", "", E.MUMBAI_POLICE_TWEETS),
    ],
)
def test_reserved_data_sets_are_dropped_whole(dataset, repository, event):
    assert reserved_dataset(dataset, repository) is event
    match = reserved_match("a perfectly ordinary post", dataset=dataset, repository=repository)
    assert match is not None and match.basis is MatchBasis.DATASET and match.event is event


def test_other_data_sets_are_kept():
    assert reserved_dataset("humaid", "anhtranst/humaid") is None
    assert (
        reserved_dataset("davidson-hate-offensive", "t-davidson/hate-speech-and-offensive-language")
        is None
    )


def test_a_corpus_record_is_judged_on_its_provenance_and_its_text():
    ordinary = {
        "text": "tree down across the road on Pine St",
        "provenance": {
            "dataset": "humaid",
            "repository": "anhtranst/humaid",
            "event": "hurricane_irma_2017",
        },
    }
    assert not is_reserved_record(ordinary)
    assert is_reserved_record(
        {**ordinary, "provenance": {**ordinary["provenance"], "event": "canada_wildfires_2016"}}
    )
    assert is_reserved_record(
        {**ordinary, "provenance": {**ordinary["provenance"], "dataset": "CrisisLexT26"}}
    )
    assert is_reserved_record({**ordinary, "text": "tree down across the road, #HurricaneFlorence"})
    assert not is_reserved_record({"text": "gold record without provenance"})
